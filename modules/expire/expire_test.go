package expire_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/coretest"
	"github.com/golighty/golighty/lighttpdconf"
	"github.com/golighty/golighty/modules/expire"
	_ "github.com/golighty/golighty/modules/setenv"
	_ "github.com/golighty/golighty/modules/staticfile"
)

func TestParseRule(t *testing.T) {
	const day = 86400
	tests := []struct {
		in      string
		base    expire.Base
		offset  int64
		wantErr string
	}{
		{in: "access 1 hour", offset: 3600},
		{in: "access plus 1 hours", offset: 3600},
		{in: "now plus 2 days 3 seconds", offset: 2*day + 3},
		{in: "modification 1 week", base: expire.Modification, offset: 7 * day},
		{in: "access 1 month", offset: 30 * day},
		{in: "access 1 year", offset: 360 * day},
		{in: "access 5 minutes 1 second", offset: 301},
		{in: "access 1 hour ", offset: 3600},
		{in: "access -1 hours", offset: -3600},
		{in: "access +2 seconds", offset: 2},
		{in: "access  hours", offset: 0}, // strtol reads no digit, stops at the space
		{in: "access 1x hour", wantErr: "missing <type> after <num>: 1x hour"},
		{in: "access 100 years", offset: 3110400000 - 1<<32}, // the C int product wraps
		{in: "", wantErr: "mod_expire empty string"},
		{in: "access", wantErr: "invalid <base>: access"},
		{in: "Access 1 hour", wantErr: "invalid <base>: Access 1 hour"},
		{in: "later 1 hour", wantErr: "invalid <base>: later 1 hour"},
		{in: "access plus", wantErr: "missing space after <num>: plus"},
		{in: "access 1", wantErr: "missing space after <num>: 1"},
		{in: "access one hour", wantErr: "missing <type> after <num>: one hour"},
		{in: "access 1 lightyear", wantErr: "unknown type: lightyear"},
		{in: "access 1 s", wantErr: "unknown type: s"},
		{in: "access 1 hourss", wantErr: "unknown type: hourss"},
		{in: "access 1  hours", wantErr: "unknown type:  hours"},
		{in: "access 1 hour 2", wantErr: "missing space after <num>: 2"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := expire.ParseRule(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Base != tt.base || r.Offset != tt.offset {
				t.Fatalf("got %+v, want base %d offset %d", r, tt.base, tt.offset)
			}
		})
	}
}

func TestMimetypeKeys(t *testing.T) {
	kv := func(s ...string) []core.KV {
		var out []core.KV
		for _, k := range s {
			out = append(out, core.KV{Key: k, Value: "v-" + k})
		}
		return out
	}
	tests := []struct {
		name string
		in   []core.KV
		want []string // keys in order
	}{
		{"star trimmed", kv("image/*", "text/html"), []string{"image/", "text/html"}},
		{"javascript renamed, last takes its place", kv("application/javascript", "a", "b"), []string{"b", "a", "text/javascript"}},
		{"javascript last stays last", kv("a", "application/javascript"), []string{"a", "text/javascript"}},
		{"kept when text/javascript present", kv("application/javascript", "text/javascript"), []string{"application/javascript", "text/javascript"}},
		{"kept when text/ present", kv("text/*", "application/javascript"), []string{"text/", "application/javascript"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := expire.MimetypeKeys(tt.in)
			var keys []string
			for _, g := range got {
				keys = append(keys, g.Key)
			}
			if strings.Join(keys, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("keys %q, want %q", keys, tt.want)
			}
			for _, g := range got {
				if g.Key == "text/javascript" && g.Value != "v-application/javascript" && g.Value != "v-text/javascript" {
					t.Fatalf("renamed entry lost its value: %+v", g)
				}
			}
		})
	}
}

const conf = `
server.document-root = "@DIR@/www"
server.modules = ("mod_setenv", "mod_expire")
mimetype.assign = (".txt" => "text/plain", ".html" => "text/html", ".css" => "text/css", ".js" => "text/javascript")
expire.url = ("/static/" => "access plus 1 days", "/old/" => "modification 1 hour", "/neg/" => "access -5 seconds")
expire.mimetypes = ("text/html" => "access 10 minutes", "text/*" => "access 1 minute", "application/javascript" => "access 7 seconds", "" => "access 3 seconds")
$HTTP["url"] =^ "/cc/" { setenv.set-response-header = ("Cache-Control" => "no-store") }
`

func TestExpireEndToEnd(t *testing.T) {
	h := coretest.New(t, conf)
	for _, f := range []string{"static/a.txt", "old/a.txt", "neg/a.txt", "p.html", "p.css", "p.js", "p.bin", "cc/a.txt"} {
		h.WriteFile("www/"+f, "x")
	}
	tests := []struct {
		name, req string
		cc        string // expected Cache-Control, "" for none
	}{
		{"url prefix", "GET /static/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "max-age=86400"},
		{"url prefix beats mimetype", "HEAD /static/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "max-age=86400"},
		{"negative offset clamps to now", "GET /neg/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "max-age=0"},
		{"mimetype exact", "GET /p.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "max-age=600"},
		{"mimetype prefix with star", "GET /p.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "max-age=60"},
		// text/ is present, so application/javascript is not renamed and
		// text/javascript matches "text/".
		{"javascript", "GET /p.js HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "max-age=60"},
		{"default", "GET /p.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "max-age=3"},
		{"404 untouched", "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", ""},
		{"POST untouched", "POST /p.html HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", ""},
		{"existing Cache-Control kept", "GET /cc/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "no-store"},
		{"304 untouched", "GET /p.html HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\nConnection: close\r\n\r\n", ""},
		{"206 gets it", "GET /p.html HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\nConnection: close\r\n\r\n", "max-age=600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := h.Do(tt.req)
			if got := resp.Header.Get("Cache-Control"); got != tt.cc {
				t.Fatalf("Cache-Control %q, want %q", got, tt.cc)
			}
			if resp.Header.Get("Expires") != "" {
				t.Fatalf("HTTP/1.1 got Expires %q", resp.Header.Get("Expires"))
			}
		})
	}

	t.Run("modification base", func(t *testing.T) {
		resp, _ := h.Do("GET /old/a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		n, err := strconv.Atoi(strings.TrimPrefix(resp.Header.Get("Cache-Control"), "max-age="))
		if err != nil || n < 3595 || n > 3600 {
			t.Fatalf("Cache-Control %q, want about max-age=3600", resp.Header.Get("Cache-Control"))
		}
	})

	t.Run("HTTP/1.0 gets Expires only", func(t *testing.T) {
		before := time.Now().Truncate(time.Second)
		resp, _ := h.Do("GET /static/a.txt HTTP/1.0\r\n\r\n")
		if cc := resp.Header.Get("Cache-Control"); cc != "" {
			t.Fatalf("HTTP/1.0 got Cache-Control %q", cc)
		}
		exp, err := time.Parse(time.RFC1123, resp.Header.Get("Expires"))
		if err != nil {
			t.Fatalf("Expires %q: %v", resp.Header.Get("Expires"), err)
		}
		if d := exp.Sub(before); d < 24*time.Hour || d > 24*time.Hour+2*time.Second {
			t.Fatalf("Expires %v is %v after request time", exp, d)
		}
	})

	t.Run("header order", func(t *testing.T) {
		raw := string(h.Raw("GET /p.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
		head, _, _ := strings.Cut(raw, "\r\n\r\n")
		var names []string
		for _, l := range strings.Split(head, "\r\n")[1:] {
			n, _, _ := strings.Cut(l, ":")
			names = append(names, n)
		}
		want := "Content-Type,ETag,Last-Modified,Content-Length,Cache-Control,Accept-Ranges,Connection,Date,Server"
		if got := strings.Join(names, ","); got != want {
			t.Fatalf("order %s, want %s", got, want)
		}
	})
}

func TestExpireConfigErrors(t *testing.T) {
	tests := []struct{ name, conf, want string }{
		{"bad base", `expire.url = ("/" => "later 1 hour")`, "invalid <base>: later 1 hour\nparsing expire.url failed: later 1 hour"},
		{"bad unit", `expire.mimetypes = ("" => "access 1 lightyear")`, "unknown type: lightyear\nparsing expire.mimetypes failed: access 1 lightyear"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := compileErr(t, "server.modules = (\"mod_expire\")\n"+tt.conf+"\n")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"access 1 hour", "modification plus 2 days 3 seconds", "now 99999999999 years", "access  hours", "access 1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := expire.ParseRule(s)
		if err != nil {
			return
		}
		if !strings.HasPrefix(s, "access ") && !strings.HasPrefix(s, "now ") && !strings.HasPrefix(s, "modification ") {
			t.Fatalf("accepted %q without a base", s)
		}
		if (r.Base == expire.Modification) != strings.HasPrefix(s, "modification ") {
			t.Fatalf("%q: base %d", s, r.Base)
		}
	})
}

// BenchmarkExpireHook measures one response_start call that matches a
// mimetype rule, for HTTP/1.1 (max-age) and HTTP/1.0 (Expires).
func BenchmarkExpireHook(b *testing.B) {
	h := coretest.New(b, conf)
	mod, ok := h.Snap.Module("mod_expire")
	if !ok {
		b.Fatal("mod_expire not loaded")
	}
	m := mod.(*expire.Module)
	for _, proto := range []int{11, 10} {
		b.Run("HTTP/1."+strconv.Itoa(proto-10), func(b *testing.B) {
			rc := &core.Request{Snap: h.Snap, Method: "GET", Proto: proto}
			rc.URI.Path = "/p.html"
			rc.Resp.Status = 200
			b.ReportAllocs()
			for b.Loop() {
				rc.Resp.Header.Reset()
				rc.Resp.Header.Set("Content-Type", "text/html")
				m.ResponseStart(rc)
			}
		})
	}
}

// compileErr compiles conf and returns the error core.Compile reports.
func compileErr(t *testing.T, conf string) error {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "lighttpd.conf")
	if err := os.WriteFile(path, []byte("server.document-root = \""+dir+"\"\n"+conf), 0o644); err != nil {
		t.Fatal(err)
	}
	parsed, err := lighttpdconf.ParseFile(path, &lighttpdconf.Options{})
	if err != nil {
		return err
	}
	_, err = core.Compile(parsed, core.CompileOptions{}, nil)
	return err
}
