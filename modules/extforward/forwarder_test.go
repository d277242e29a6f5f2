package extforward

import (
	"fmt"
	"strings"
	"testing"

	"github.com/golighty/golighty/core"
)

// kvs pairs up key, value, key, value...
func kvs(s ...string) []core.KV {
	var list []core.KV
	for i := 0; i+1 < len(s); i += 2 {
		list = append(list, core.KV{Key: s[i], Value: s[i+1]})
	}
	return list
}

func mustForwarder(t testing.TB, pairs ...string) *forwarder {
	t.Helper()
	f, err := parseForwarder(kvs(pairs...), func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestParseForwarder(t *testing.T) {
	tests := []struct {
		name     string
		kvs      []core.KV
		warnings string // "|"-joined
		err      string
	}{
		{"plain entries", kvs("10.0.0.1", "trust", "10.0.0.2", "TRUST", "10.0.0.3", "untrusted"), "", ""},
		{"other value warns", kvs("10.0.0.1", "yes"), `ERROR: expect "trust", not "10.0.0.1" => "yes"; treating as untrusted`, ""},
		{"untrusted network warns", kvs("10.0.0.0/8", "untrusted"), `ERROR: untrusted CIDR masks are ignored ("10.0.0.0/8" => "untrusted")`, ""},
		{"bad netmask", kvs("10.0.0.0/x", "trust"), "", "ERROR: invalid netmask: 10.0.0.0/x x; unexpected value for extforward.forwarder"},
		{"zero netmask", kvs("10.0.0.0/0", "trust"), "", "ERROR: invalid netmask: 10.0.0.0/0 ; unexpected value for extforward.forwarder"},
		{"signed netmask", kvs("10.0.0.0/+8", "trust"), "", "ERROR: invalid netmask: 10.0.0.0/+8 +8; unexpected value for extforward.forwarder"},
		{"bad network address", kvs("10.0.0.zz/8", "trust"), "", "could not parse ip address 10.0.0.zz; unexpected value for extforward.forwarder"},
		{"bracketed ipv6 network", kvs("[2001:db8::]/32", "trust"), "", ""},
		{"inet_aton network", kvs("10/8", "trust"), "", ""},
		{"oversized bits", kvs("1.2.3.4/33", "trust", "::1/200", "trust"), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warns []string
			_, err := parseForwarder(tt.kvs, func(f string, a ...any) { warns = append(warns, fmt.Sprintf(f, a...)) })
			if got := fmt.Sprint(err); (tt.err == "" && err != nil) || (tt.err != "" && got != tt.err) {
				t.Fatalf("error %q, want %q", got, tt.err)
			}
			if got := strings.Join(warns, "|"); got != tt.warnings {
				t.Fatalf("warnings %q, want %q", got, tt.warnings)
			}
		})
	}
}

func TestTrusted(t *testing.T) {
	f := mustForwarder(t,
		"10.0.0.0/8", "trust",
		"10.9.9.9", "untrusted",
		"192.0.2.1", "trust",
		"2001:DB8::1", "trust",
		"[2001:db8:ffff::]/48", "trust",
		"_proxy1", "trust",
		"1.2.3.4/33", "trust",
		"10.5.0.0/16", "untrusted", // ignored: the /8 still covers it
		"172.16/12", "trust", // inet_aton: 172.0.0.16/12
	)
	tests := []struct {
		ip   string
		want bool
	}{
		{"10.1.2.3", true},
		{"10.9.9.9", false}, // exact untrusted beats the network
		{"10.5.1.1", true},
		{"11.0.0.1", false},
		{"192.0.2.1", true},
		{"192.0.2.2", false},
		{"2001:db8::1", true}, // exact keys compare without case
		{"2001:0db8::1", false},
		{"2001:db8:ffff:1::5", true},
		{"2001:db8:fffe::5", false},
		{"::ffff:10.1.2.3", true},   // mapped: its IPv4 address is in 10/8
		{"::ffff:11.1.2.3", false},  // lighttpd 1.4.69 would trust it
		{"::ffff:192.0.2.1", false}, // exact keys are strings
		{"_proxy1", true},
		{"_PROXY1", true},
		{"1.2.3.4", true},
		{"1.2.3.5", false},
		{"172.0.0.16", true},
		{"172.16.0.1", false},
		{"010.1.2.3", false}, // no inet_aton forms for request addresses
		{"fe80::1%eth0", false},
		{"", false},
		{"10.1.2.3:80", false},
		{strings.Repeat("1", 70), false},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			if got := f.trusted(tt.ip); got != tt.want {
				t.Fatalf("trusted(%q) = %v", tt.ip, got)
			}
		})
	}
	t.Run("all trusts the peer only", func(t *testing.T) {
		all := mustForwarder(t, "ALL", "trust")
		if !all.connTrusted("203.0.113.5") || all.trusted("203.0.113.5") {
			t.Fatal(`"all" must trust any peer and no chain entry`)
		}
		none := mustForwarder(t, "all", "untrusted", "127.0.0.1", "trust")
		if none.connTrusted("127.0.0.1") || !none.trusted("127.0.0.1") {
			t.Fatal(`"all" => "untrusted" trusts no peer, chain entries still count`)
		}
	})
}

func TestParseInetAton(t *testing.T) {
	tests := map[string]string{
		"10":          "0.0.0.10",
		"127.1":       "127.0.0.1",
		"10.1.2":      "10.1.0.2",
		"0x7f.1":      "127.0.0.1",
		"010.0.0.1":   "8.0.0.1",
		"4294967295":  "255.255.255.255",
		"4294967296":  "",
		"256.1":       "",
		"1.2.3.4.5":   "",
		"08":          "",
		"0b1":         "",
		"1_0":         "",
		"+1":          "",
		"":            "",
		"1..2":        "",
		"0x":          "",
		"1.2.65536":   "",
		"1.2.65535":   "1.2.255.255",
		"1.16777215":  "1.255.255.255",
		"1.16777216":  "",
		"0.0.0.0":     "0.0.0.0",
		"255.255.255": "255.255.0.255",
	}
	for in, want := range tests {
		t.Run(in, func(t *testing.T) {
			a, ok := parseInetAton(in)
			got := ""
			if ok {
				got = a.String()
			}
			if got != want {
				t.Fatalf("parseInetAton(%q) = %q, want %q", in, got, want)
			}
		})
	}
}
