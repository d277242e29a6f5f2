package gw

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/h1"
)

// SpoolMem is how much of a request body stays in memory before it spills
// to a temporary file in server.upload-dirs.
const SpoolMem = 64 << 10

// Body is a request body as sent to a backend: held in memory or a
// temporary file (so it can be sent again after a failed connect, and its
// length is known for CONTENT_LENGTH), or streamed from the client.
type Body struct {
	mem  []byte
	file *os.File
	// N is the body length (known before the backend is contacted).
	N int64
	// stream is a body of known length read from the client while it is
	// sent: it can be sent once only.
	stream io.Reader
}

// ReadBody prepares rc's body. A body with a Content-Length above
// streamAbove is left on the connection and streamed while it is sent
// (math.MaxInt64: never; lighttpd's server.stream-request-body = 0 reads
// every body before contacting the backend); smaller ones and chunked ones
// are read first, in memory up to SpoolMem, else into a temporary file
// (a chunked body's length is known only then, as CONTENT_LENGTH needs).
// rc.BodyRead is set for spooled chunked bodies.
func ReadBody(rc *core.Request, streamAbove int64) (*Body, error) {
	if rc.Body == nil || rc.BodyLength == 0 {
		return &emptyBody, nil
	}
	b := &Body{}
	if rc.BodyLength > 0 && rc.BodyLength > streamAbove {
		b.stream, b.N = rc.Body, rc.BodyLength
		return b, nil
	}
	if rc.BodyLength > 0 && rc.BodyLength <= SpoolMem {
		b.mem = make([]byte, rc.BodyLength)
		if _, err := io.ReadFull(rc.Body, b.mem); err != nil {
			return nil, err
		}
		b.N = rc.BodyLength
		return b, nil
	}
	if err := b.spool(rc); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// StreamAbove is the streamAbove argument for lighttpd's
// server.stream-request-body setting: 0 reads whole bodies first, anything
// else streams bodies of known length.
func StreamAbove(rc *core.Request) int64 {
	if rc.Conf.StreamRequestBody == 0 {
		return math.MaxInt64
	}
	return 0
}

func (b *Body) spool(rc *core.Request) error {
	var mem bytes.Buffer
	n, err := io.CopyN(&mem, rc.Body, SpoolMem+1)
	if err == io.EOF {
		b.mem, b.N = mem.Bytes(), n
		rc.BodyRead = n
		return nil
	}
	if err != nil {
		return err
	}
	dir := ""
	if d := rc.Snap.Core.Server.UploadDirs; len(d) > 0 {
		dir = d[0]
	}
	f, err := os.CreateTemp(dir, "golighty-upload-")
	if err != nil {
		return err
	}
	os.Remove(f.Name()) // the open file is all that is needed
	b.file = f
	if _, err := f.Write(mem.Bytes()); err != nil {
		return err
	}
	m, err := io.Copy(f, rc.Body)
	if err != nil {
		return err
	}
	b.N = n + m
	rc.BodyRead = b.N
	return nil
}

// emptyBody is every bodiless request's Body, shared: only ReadBody
// writes to a Body, and Close has nothing to release in this one.
var emptyBody Body

// Reader returns the body for one attempt (nil when empty).
func (b *Body) Reader() io.Reader {
	switch {
	case b.N == 0:
		return nil
	case b.file != nil:
		return io.NewSectionReader(b.file, 0, b.N)
	case b.mem != nil:
		return bytes.NewReader(b.mem)
	}
	return b.stream
}

// Bytes returns a body held in memory (nil otherwise).
func (b *Body) Bytes() []byte { return b.mem }

// File returns the temporary file holding a spooled body (nil otherwise):
// a CGI child can read it as its stdin directly.
func (b *Body) File() *os.File { return b.file }

// Streamed reports a body read from the client while it is sent: it cannot
// be replayed on another backend.
func (b *Body) Streamed() bool { return b.stream != nil }

// InMemory reports a body held in memory (nil file, not streamed).
func (b *Body) InMemory() bool { return b.N == 0 || b.mem != nil }

// Close releases the temporary file.
func (b *Body) Close() {
	if b.file != nil {
		b.file.Close()
		b.file = nil
	}
}

// BodyFailed answers a request whose body could not be read: the status
// the engine gave the malformed or oversized body (400, 413), else 400; a
// client that went away gets nothing (the engine writes no more).
func BodyFailed(rc *core.Request, err error) core.Result {
	rc.Logf("reading request body for %s: %v", rc.URI.Path, err)
	rc.KeepAlive = false
	var be *h1.BodyError
	if errors.As(err, &be) {
		return rc.Status(be.Status)
	}
	return rc.Status(400)
}
