package authnldap

import (
	"reflect"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func TestEscapeDN(t *testing.T) {
	for in, want := range map[string]string{
		"alice":       "alice",
		" a ":         `\ a\ `,
		" ":           `\ `,
		"a,b+c=d#e":   `a\,b\+c\=d\#e`,
		`"<>;\`:       `\"\<\>\;\\`,
		"j\x00x":      `j\00x`,
		"jörg":        `j\c3\b6rg`,
		"x)(uid=*":    `x)(uid\=*`,
		"trailing ":   `trailing\ `,
		"#lead":       `\#lead`,
		"":            "",
		"inner space": "inner space",
	} {
		if got := escapeDN(in); got != want {
			t.Errorf("escapeDN(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestFilterEscape: the user name cannot add filter syntax.
func TestFilterEscape(t *testing.T) {
	for in, want := range map[string]string{
		"*":            `\2a`,
		"a)(uid=*":     `a\29\28uid=\2a`,
		`x\`:           `x\5c`,
		"n\x00":        `n\00`,
		"jörg":         `j\c3\b6rg`,
		"plain.user-1": "plain.user-1",
	} {
		if got := ldap.EscapeFilter(in); got != want {
			t.Errorf("EscapeFilter(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHostURLs(t *testing.T) {
	got := hostURLs(" ldap.example.org, LDAPS://b:636\tldapi://%2Fvar%2Frun%2Fs\n c:389 ")
	want := []string{"ldap://ldap.example.org", "LDAPS://b:636", "ldapi://%2Fvar%2Frun%2Fs", "ldap://c:389"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q", got)
	}
	if serverName("ldaps://b.example:636/") != "b.example" || serverName("ldap://c") != "c" {
		t.Error("serverName")
	}
}
