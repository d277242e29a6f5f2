package fcgi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// refDecode is a plain whole-buffer decoder: the STDOUT stream of request 1
// and whether a complete END_REQUEST ended it.
func refDecode(b []byte) (stdout []byte, complete bool) {
	for len(b) >= 8 && b[0] == 1 {
		typ, id := b[1], binary.BigEndian.Uint16(b[2:])
		n := int(binary.BigEndian.Uint16(b[4:]))
		end := 8 + n + int(b[6])
		known := typ == typeStdout || typ == typeStderr || typ == typeEndRequest
		if known && id != 1 {
			return stdout, false
		}
		if typ == typeEndRequest {
			return stdout, n >= 8 && len(b) >= 16 && b[12] == 0 && len(b) >= end
		}
		if len(b) < end {
			return stdout, false
		}
		if typ == typeStdout {
			stdout = append(stdout, b[8:8+n]...)
		}
		b = b[end:]
	}
	return stdout, false
}

func FuzzReadRecords(f *testing.F) {
	f.Add(cat(stdout("Status: 200\r\n\r\nbody"), endRequest(0, 0)))
	f.Add(cat(stderrRec("e1\ne2"), stdout("A: 1\n\n"), rawRecord(typeStdout, 1, []byte("pad"), 200), endRequest(5, 0)))
	f.Add(cat(rawRecord(typeGetValuesResult, 0, []byte{1, 1, 'A', '1'}, 0), stdout("\r\n"), endRequest(0, 2)))
	f.Add(stdout("A: 1\r\n\r\ncut"))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n"))
	f.Add(cat(stdout("x"), rawRecord(typeEndRequest, 1, []byte{0, 0, 0}, 0)))
	f.Fuzz(func(t *testing.T, in []byte) {
		var lines int
		resp := &Response{addr: "fuzz"}
		resp.rr.reset(bufio.NewReaderSize(bytes.NewReader(in), 64), StderrFunc(func(l []byte) {
			lines++
			if len(l) > maxStderrLine+512 {
				t.Fatalf("stderr line of %d bytes", len(l))
			}
		}))
		hdr, err := resp.ReadHeader()
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp)
		}
		if err != nil {
			known := false
			for _, e := range []error{ErrMalformed, io.ErrUnexpectedEOF, ErrOverloaded, ErrCantMpxConn, ErrUnknownRole, ErrHeaderTooLarge, ErrHeaderIncomplete} {
				known = known || errors.Is(err, e)
			}
			if !known {
				t.Fatalf("unclassified error %v", err)
			}
		}
		if len(hdr)+len(body) > len(in) {
			t.Fatalf("returned %d bytes from %d input bytes", len(hdr)+len(body), len(in))
		}
		want, complete := refDecode(in)
		if err == nil {
			if !complete {
				t.Fatalf("clean EOF without a complete END_REQUEST")
			}
			_, next, ok := headerEnd(want, 0)
			if !ok || !bytes.Equal(want[next:], body) || !bytes.HasPrefix(want, hdr) {
				t.Fatalf("stream mismatch: hdr %q body %q, reference %q", hdr, body, want)
			}
		} else if complete && len(want) <= MaxHeaderBlock {
			if _, _, ok := headerEnd(want, 0); ok {
				t.Fatalf("error %v on a complete stream %q", err, want)
			}
		}
	})
}
