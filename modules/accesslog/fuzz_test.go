package accesslog

import (
	"testing"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/accesslog/format"
)

// FuzzLogLine feeds client-controlled request data through fillRecord and
// the default format: whatever the client sends, the line must stay one
// line with exactly the format's six unescaped quotes, so a client cannot
// forge log lines or fields.
func FuzzLogLine(f *testing.F) {
	f.Add("/a.txt?x=1", "ex.com", "Mozilla/5.0", "http://r/", "c=1", false)
	f.Add("/a\"b\\c", "h\x00st", "ua\n127.0.0.1 - - [x] \"GET / HTTP/1.1\" 200", "\xff\xfe", "", true)
	f.Add("", "", "\x7f\x1b[31m", "\"", "\t", false)
	fm, err := format.Compile(format.Default)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, target, host, ua, referer, user string, json bool) {
		rc := &core.Request{Method: "GET", Proto: 11, Target: target, Start: time.Now(), RemoteUser: user}
		rc.URI = core.URI{Authority: host, Target: target}
		rc.Header.Append("User-Agent", ua)
		rc.Header.Append("Referer", referer)
		rc.Resp.Status = 200
		var r format.Record
		fillRecord(&r, rc, "tag")
		esc := format.EscapeDefault
		if json {
			esc = format.EscapeJSON
		}
		line, _ := fm.Append(nil, &r, esc)
		quotes := 0
		for i := 0; i < len(line); i++ {
			c := line[i]
			switch {
			case c == '\\':
				i++ // an escape sequence: the next byte is not a delimiter
			case c == '"':
				quotes++
			case c < 0x20 || (c >= 0x7f && !json):
				t.Fatalf("raw byte %#x at %d in %q", c, i, line)
			}
		}
		if quotes != 6 {
			t.Fatalf("%d unescaped quotes in %q", quotes, line)
		}
	})
}
