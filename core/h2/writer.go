package h2

import (
	"encoding/binary"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golighty/golighty/core/ascii"
	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/h1"
	"github.com/golighty/golighty/core/monoclock"
	"github.com/golighty/golighty/core/rawsys"
	"golang.org/x/net/http2"
	"golang.org/x/sys/unix"
)

// writeLoop is the connection's only writer. Each round it takes the
// queued control and HEADERS frames, then DATA from the streams in
// priority order (each stream at most lighttpd's per-round share, all of
// them at most writeBudget), and sends the lot with one write. File data
// is read into the frames outside the lock.
func (c *conn) writeLoop() {
	defer close(c.writerEnd)
	var (
		buf   []byte
		reads []fileRead
		wdl   time.Time
		timer *time.Timer
	)
	for {
		c.mu.Lock()
		for !c.hasWork() {
			if c.dead || c.closeNow {
				c.mu.Unlock()
				c.endWrite()
				return
			}
			stalled := c.checkStalls()
			c.mu.Unlock()
			if stalled {
				if timer == nil {
					timer = time.NewTimer(time.Second)
				} else {
					timer.Reset(time.Second)
				}
				select {
				case <-c.wake:
				case <-timer.C:
				}
			} else {
				<-c.wake
			}
			// Let the handlers that are ready finish first, so that one
			// write carries their responses together.
			runtime.Gosched()
			c.mu.Lock()
		}
		buf = append(buf[:0], c.ctrl...)
		c.ctrl = c.ctrl[:0]
		c.ctrlFrames = 0
		buf, reads = c.fillData(buf, reads[:0])
		c.mu.Unlock()

		failed := false
		for i := 0; i < len(reads); {
			// Consecutive frames of one file are read together.
			j := i + 1
			for j < len(reads) && reads[j].s == reads[i].s && reads[j].off == reads[j-1].off+int64(reads[j-1].n) {
				j++
			}
			if err := c.readFrames(buf, reads[i:j]); err != nil {
				failed = true
				reads[i].err = err
			}
			i = j
		}
		if len(reads) > 0 {
			c.mu.Lock()
			for i := range reads {
				s := reads[i].s
				s.file.inflight--
				if reads[i].err != nil && s.file.err == nil {
					s.file.err = reads[i].err
				}
				s.cond.Broadcast()
				c.release(s)
			}
			c.mu.Unlock()
		}
		if failed {
			// A file that cannot be read (truncated underneath) leaves a body
			// that cannot be completed: the whole batch is not sent; the
			// streams concerned are reset by their handlers.
			c.mu.Lock()
			c.closeNow = true
			c.goAway(http2.ErrCodeInternal)
			c.mu.Unlock()
			continue
		}
		if d := monoclock.Now().Add(c.cfg.MaxWriteIdle); wdl.IsZero() || d.Sub(wdl) >= time.Second {
			c.nc.SetWriteDeadline(d)
			wdl = d
		}
		if err := c.write(buf); err != nil {
			c.mu.Lock()
			c.dead = true
			for _, s := range c.streams {
				c.failStream(s, ErrStreamClosed)
			}
			c.mu.Unlock()
			c.nc.Close()
			return
		}
		if cap(buf) > 4*writeBudget {
			buf = nil
		}
	}
}

// The writer's system calls on a plain socket and on files whose pages
// are cached are raw ones, as core/h1's: they cannot block, and the
// runtime's bookkeeping of a blocking call wakes its sysmon thread, which
// then polls every 20 µs for a while (17% of the server's CPU with 100 MiB
// downloads, as much as the file reads).

// write writes all of p to the connection.
func (c *conn) write(p []byte) error {
	if c.rawc == nil {
		_, err := c.nc.Write(p)
		return err
	}
	if c.writeFn == nil {
		c.writeFn = c.writeRaw // bound once: no allocation per write
	}
	c.wp, c.werrno = p, 0
	err := c.rawc.Write(c.writeFn)
	c.wp = nil
	if err == nil && c.werrno != 0 {
		err = os.NewSyscallError("write", c.werrno)
	}
	return err
}

// writeRaw is write's RawConn.Write callback: false means wait for room.
func (c *conn) writeRaw(fd uintptr) bool {
	for len(c.wp) > 0 {
		n, e := rawsys.Write(fd, c.wp)
		switch e {
		case 0:
			c.wp = c.wp[n:]
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			c.werrno = e
			return true
		}
	}
	return true
}

// readFrames fills the payloads of consecutive DATA frames of one file
// region (rs, in buf): one preadv2 for them all when the pages are cached,
// else frame by frame.
func (c *conn) readFrames(buf []byte, rs []fileRead) error {
	if len(rs) > 1 {
		c.iov = c.iov[:0]
		total := 0
		for _, r := range rs {
			v := unix.Iovec{Base: &buf[r.at]}
			v.SetLen(r.n)
			c.iov = append(c.iov, v)
			total += r.n
		}
		n, e := rawsys.PreadvNowait(uintptr(rs[0].s.file.fd.Int()), c.iov, rs[0].off)
		clear(c.iov)
		if e == 0 && n == total {
			return nil
		}
	}
	for _, r := range rs {
		if err := r.s.file.fd.ReadFull(buf[r.at:r.at+r.n], r.off); err != nil {
			return err
		}
	}
	return nil
}

// endWrite half-closes after the last frames so the client reads them
// before the socket goes (the reader drains what still comes).
func (c *conn) endWrite() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.ended.Store(true)
	c.nc.SetReadDeadline(time.Now()) // wake the reader: it ends too
}

type fileRead struct {
	s     *stream
	at, n int
	off   int64
	err   error
}

func (c *conn) hasWork() bool {
	if len(c.ctrl) > 0 {
		return true
	}
	if c.dead || c.upgraded && c.earlyData >= maxFrameSize {
		return false
	}
	for _, s := range c.sendq {
		if s.wantsWrite(c.sendWin) {
			return true
		}
	}
	return false
}

// checkStalls resets streams that the client's flow control has kept from
// sending for server.max-write-idle (zero-window stalls) and reports
// whether some stream is still waiting for window.
func (c *conn) checkStalls() bool {
	now := monoclock.Now()
	waiting := false
	for i := 0; i < len(c.sendq); i++ {
		s := c.sendq[i]
		if !s.hasData() || s.reset {
			continue
		}
		if s.stalled.IsZero() {
			s.stalled = now
		}
		if now.Sub(s.stalled) < c.cfg.MaxWriteIdle {
			waiting = true
			continue
		}
		if c.sendWin <= 0 {
			// The connection window itself is stuck.
			c.goAway(http2.ErrCodeFlowControl)
			c.closeNow = true
			return false
		}
		c.resetStream(s, http2.ErrCodeCancel)
		i--
	}
	return waiting
}

// fillData appends DATA frames to buf and notes the file reads to do.
func (c *conn) fillData(buf []byte, reads []fileRead) ([]byte, []fileRead) {
	budget := writeBudget
	if c.upgraded {
		budget = maxFrameSize - c.earlyData
	}
	defer func(start int) { c.earlyData += start - budget }(budget)
	for i := 0; i < len(c.sendq) && budget > 0; i++ {
		s := c.sendq[i]
		quantum := quantumPlain
		if s.prio&1 == 0 {
			quantum = quantumIncremental
		}
		for quantum > 0 && budget > 0 && s.hasData() && s.sendWin > 0 && c.sendWin > 0 {
			n := min(quantum, budget, int(s.sendWin), int(c.sendWin), c.peerMaxFrame)
			var at int
			buf, at = appendFrameHeader(buf, http2.FrameData, 0, s.id)
			if avail := len(s.out) - s.ooff; avail > 0 {
				n = min(n, avail)
				buf = append(buf, s.out[s.ooff:s.ooff+n]...)
				s.ooff += n
				if s.ooff == len(s.out) {
					s.out, s.ooff = s.out[:0], 0
					s.cond.Broadcast()
				}
			} else {
				n = int(min(int64(n), s.file.n))
				reads = append(reads, fileRead{s: s, at: len(buf), n: n, off: s.file.off})
				// Room for the read, not cleared: it is filled whole, or
				// the batch is not sent (below).
				buf = slices.Grow(buf, n)[:len(buf)+n]
				s.file.off += int64(n)
				s.file.n -= int64(n)
				s.file.inflight++
			}
			s.sendWin -= int64(n)
			c.sendWin -= int64(n)
			s.sentBody += int64(n)
			s.stalled = time.Time{}
			quantum -= n
			budget -= n
			end := s.declared >= 0 && s.sentBody >= s.declared && !s.hasData()
			if end || s.finished && !s.hasData() {
				buf[at+4] = byte(http2.FlagDataEndStream)
				c.localEnd(s)
			}
			setFrameLength(buf, at, n)
		}
		if s.finished && !s.endSent && !s.hasData() && !s.reset {
			var at int
			buf, at = appendFrameHeader(buf, http2.FrameData, http2.FlagDataEndStream, s.id)
			setFrameLength(buf, at, 0)
			c.localEnd(s)
		}
		if !s.hasData() && (s.endSent || !s.finished) || s.reset {
			c.unqueue(s)
			i--
			c.release(s)
		}
	}
	return buf, reads
}

func appendFrameHeader(buf []byte, t http2.FrameType, flags http2.Flags, id uint32) ([]byte, int) {
	at := len(buf)
	buf = append(buf, 0, 0, 0, byte(t), byte(flags), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(buf[at+5:], id)
	return buf, at
}

func setFrameLength(buf []byte, at, n int) {
	buf[at], buf[at+1], buf[at+2] = byte(n>>16), byte(n>>8), byte(n)
}

// localEnd records that END_STREAM went out for s. A client still sending
// a large body is told to stop with RST_STREAM NO_ERROR (RFC 9113 §8.1, as
// lighttpd does); the rest of a small one is read and dropped, so that the
// stream ends as the client ends it.
func (c *conn) localEnd(s *stream) {
	s.endSent = true
	s.cond.Broadcast()
	switch s.st {
	case stateOpen:
		s.st = stateHalfClosedLocal
		if cl := s.req.ContentLength; cl >= 0 && cl-s.received > earlyDiscard {
			c.endEarly(s)
		}
	case stateHalfClosedRemote:
		c.closeStream(s)
	}
}

// endEarly resets an answered stream whose body is still coming.
func (c *conn) endEarly(s *stream) {
	s.early = true
	c.writeRST(s.id, http2.ErrCodeNo)
	if s.rerr == nil {
		s.rerr = ErrStreamClosed
	}
	c.closeStream(s)
}

// ResponseWriter writes one response on a stream. The handler sets the
// status and adds header fields, then sends the head with WriteHead (or
// implicitly with the first Write or SendFile) and the body.
type ResponseWriter struct {
	s         *stream
	status    int
	tag       string // server.tag for this response; "" = the engine's
	noTag     bool   // a blank per-request server.tag: no server field
	fields    []respField
	wroteHead bool
	noBody    bool
	written   int64
}

// Discard drops the fields added so far and reports whether the head is
// still unsent (a handler that failed can then answer afresh).
func (w *ResponseWriter) Discard() bool {
	if w.wroteHead {
		return false
	}
	w.fields = w.fields[:0]
	return true
}

// SetStatus sets the response status (default 200).
func (w *ResponseWriter) SetStatus(code int) { w.status = code }

// SetServerTag sets the server field of this response (server.tag can
// differ per condition); a blank tag sends none.
func (w *ResponseWriter) SetServerTag(tag string) {
	w.tag = strings.TrimSpace(tag)
	if w.tag != "" {
		w.tag = tag
	}
	w.noTag = w.tag == ""
}

// Status is the status that was (or will be) sent.
func (w *ResponseWriter) Status() int { return w.status }

// Written is the number of body bytes written.
func (w *ResponseWriter) Written() int64 { return w.written }

// HeadWritten reports whether the head was sent.
func (w *ResponseWriter) HeadWritten() bool { return w.wroteHead }

// AddHeader adds a response field. Names are sent lower-case; fields
// HTTP/2 forbids (Connection, Keep-Alive, Proxy-Connection,
// Transfer-Encoding, Upgrade), lighttpd's internal ones (X-Sendfile*,
// X-LIGHTTPD-*, X-send-response-body), empty values and values holding CR,
// LF or NUL are not sent. name and value must stay valid until the head is
// written.
func (w *ResponseWriter) AddHeader(name, value string) {
	if value == "" || w.wroteHead || !safeValue(value) {
		return
	}
	rn := lookupRespName(name)
	if rn == nil && omitField(name) {
		return
	}
	w.fields = append(w.fields, respField{name, value, rn})
}

// respField is a field added to the head; known is nil for a name not in
// respNames as spelled.
type respField struct {
	name, value string
	known       *respName
}

// safeValue reports whether v holds no CR, LF or NUL. Eight bytes are
// tested at once (a word with no byte below 0x20 holds none of them); a
// word that may hold one is checked bytewise.
func safeValue(v string) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	for len(v) >= 8 {
		x := uint64(v[0]) | uint64(v[1])<<8 | uint64(v[2])<<16 | uint64(v[3])<<24 |
			uint64(v[4])<<32 | uint64(v[5])<<40 | uint64(v[6])<<48 | uint64(v[7])<<56
		if (x-lo*0x20)&^x&hi != 0 && !safeBytes(v[:8]) {
			return false
		}
		v = v[8:]
	}
	return safeBytes(v)
}

func safeBytes(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

func omitField(name string) bool {
	switch len(name) {
	case 7:
		return ascii.EqualFold(name, "Upgrade")
	case 10:
		return ascii.EqualFold(name, "Connection") || ascii.EqualFold(name, "Keep-Alive") || ascii.EqualFold(name, "X-Sendfile")
	case 11:
		return ascii.EqualFold(name, "X-Sendfile2") || ascii.EqualFold(name, "X-LIGHTTPD-")
	case 16:
		if ascii.EqualFold(name, "Proxy-Connection") {
			return true
		}
	case 17:
		return ascii.EqualFold(name, "Transfer-Encoding")
	case 20:
		if ascii.EqualFold(name, "X-send-response-body") {
			return true
		}
	}
	return len(name) > 11 && ascii.EqualFold(name[:11], "X-LIGHTTPD-")
}

// WriteHead sends the head. bodyLen is the body length when known (0: the
// HEADERS frame ends the stream), -1 when streamed; body, if not nil, is
// the whole body and is queued with the head.
func (w *ResponseWriter) WriteHead(bodyLen int64, body []byte) error {
	s := w.s
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.wroteHead {
		return c.queueBody(s, body)
	}
	return c.writeHead(s, bodyLen, body)
}

// Write streams body bytes (the head goes first if not yet sent). It
// blocks while the stream's buffer is full.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	s := w.s
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !w.wroteHead {
		if err := c.writeHead(s, -1, nil); err != nil {
			return 0, err
		}
	}
	if w.noBody {
		return len(p), nil
	}
	n := len(p)
	if err := c.queueBody(s, p); err != nil {
		return 0, err
	}
	return n, nil
}

// SendFile sends n bytes of fd from off as body: the writer reads them
// straight into DATA frames as the flow-control windows open. It returns
// once the data is framed (fd may be closed then).
func (w *ResponseWriter) SendFile(fd filefd.FD, off, n int64) error {
	return w.sendFile(fd, off, n)
}

// Flush is a no-op kept for the writer interface: the writer goroutine
// sends queued data as soon as the windows allow.
func (w *ResponseWriter) Flush() error {
	c := w.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !w.wroteHead {
		if err := c.writeHead(w.s, -1, nil); err != nil {
			return err
		}
	}
	return w.s.werr()
}

// Abort resets the stream (INTERNAL_ERROR): the response cannot be
// completed, and the client must not take it for a whole one.
func (w *ResponseWriter) Abort() {
	c := w.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !w.s.endSent {
		c.resetStream(w.s, http2.ErrCodeInternal)
	}
}

// EndConn asks for the connection to end: GOAWAY (NO_ERROR) once, so the
// open streams finish and no new one starts; asked again, the connection
// is closed at once with ENHANCE_YOUR_CALM (lighttpd's answer to repeated
// failed logins).
func (w *ResponseWriter) EndConn() {
	c := w.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ending {
		c.wfr.WriteGoAway(c.maxID, http2.ErrCodeEnhanceYourCalm, nil)
		c.queued()
		c.closeNow = true
		return
	}
	c.ending = true
	c.closing = true
	c.goAway(http2.ErrCodeNo)
	c.maybeClose()
}

// ClientReset reports whether the client reset the stream or the
// connection is gone.
func (w *ResponseWriter) ClientReset() bool {
	c := w.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return w.s.peerRst || c.dead
}

func (s *stream) werr() error {
	if s.reset || s.c.dead {
		return ErrStreamClosed
	}
	return nil
}

// finish completes the response after the handler returned.
func (w *ResponseWriter) finish() {
	s := w.s
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.reset || c.dead {
		return
	}
	if !w.wroteHead {
		c.writeHead(s, 0, nil)
		return
	}
	if !s.endSent {
		s.finished = true
		c.enqueue(s)
	}
}

var statusStrings = func() (t [600]string) {
	for i := 100; i < 600; i++ {
		t[i] = strconv.Itoa(i)
	}
	return
}()

// writeHead encodes the head into HEADERS (and CONTINUATION) frames on the
// control queue. HPACK encoding happens here under the lock, in the order
// the frames are written, so the client's decoder stays in step.
func (c *conn) writeHead(s *stream, bodyLen int64, body []byte) error {
	w := &s.rw
	if err := s.werr(); err != nil {
		return err
	}
	w.wroteHead = true
	st := w.status
	if st == 0 {
		st = 200
	}
	w.noBody = s.req.Method == "HEAD" || st < 200 || st == 204 || st == 304
	if w.noBody || len(body) > 0 {
		bodyLen = int64(len(body))
		if w.noBody {
			bodyLen = 0
		}
	}
	s.declared = bodyLen
	c.encodeHead(s, st)
	c.writeBlock(s.id, c.encBuf.Bytes(), bodyLen == 0)
	w.fields = w.fields[:0]
	if bodyLen == 0 {
		c.localEnd(s)
		return nil
	}
	return c.queueBody(s, body)
}

// encodeHead writes the response head's header block into c.encBuf.
func (c *conn) encodeHead(s *stream, st int) {
	w := &s.rw
	c.encBuf.Reset()
	status := "500"
	if st >= 100 && st < 600 {
		status = statusStrings[st]
	}
	// The encoder goes first: a pending dynamic table size update must
	// open the block.
	c.writeField(slotStatus, ":status", status)
	hasDate, hasServer, hasPrio := false, false, false
	for _, f := range w.fields {
		var rn respName
		if f.known != nil {
			rn = *f.known
		} else {
			rn = c.lowerName(f.name)
		}
		switch rn.lower {
		case "date":
			hasDate = true
		case "server":
			hasServer = true
		case "priority":
			hasPrio = true
		}
		if rn.slot >= 0 {
			c.writeField(rn.slot, rn.lower, f.value)
		} else {
			c.lit = appendLiteral(c.lit, rn.static, rn.lower, f.value)
		}
	}
	if s.prioHeader && !hasPrio {
		c.writeField(slotPriority, "priority", "u=2")
	}
	if !hasDate {
		// The same for a second: worth a dynamic table entry.
		c.writeField(slotDate, "date", httpDate())
	}
	tag := c.cfg.ServerTag
	if w.tag != "" || w.noTag {
		tag = w.tag
	}
	if tag != "" && !hasServer {
		c.writeField(slotServer, "server", tag)
	}
	c.encBuf.Write(c.lit)
	c.lit = c.lit[:0]
}

// writeContinue sends an interim ":status 100" (Expect: 100-continue).
func (c *conn) writeContinue(s *stream) {
	c.encBuf.Reset()
	c.writeField(slotStatus, ":status", "100")
	c.writeBlock(s.id, c.encBuf.Bytes(), false)
}

func (c *conn) writeBlock(id uint32, block []byte, end bool) {
	t, flags := http2.FrameHeaders, http2.Flags(0)
	if end {
		flags = http2.FlagHeadersEndStream
	}
	for {
		n := min(len(block), c.peerMaxFrame)
		if n == len(block) {
			flags |= http2.FlagHeadersEndHeaders // CONTINUATION's END_HEADERS too
		}
		var at int
		c.ctrl, at = appendFrameHeader(c.ctrl, t, flags, id)
		setFrameLength(c.ctrl, at, n)
		c.ctrl = append(c.ctrl, block[:n]...)
		if n == len(block) {
			break
		}
		block = block[n:]
		t, flags = http2.FrameContinuation, 0
	}
	c.signal()
}

// queueBody copies p into the stream's buffer, waiting for room.
func (c *conn) queueBody(s *stream, p []byte) error {
	w := &s.rw
	for len(p) > 0 {
		if err := s.werr(); err != nil {
			return err
		}
		if s.endSent {
			return ErrStreamClosed
		}
		room := streamOutMax - (len(s.out) - s.ooff)
		if room <= 0 {
			s.detach()
			s.cond.Wait()
			continue
		}
		if s.ooff > 0 && len(s.out)+len(p) > cap(s.out) {
			s.out = append(s.out[:0], s.out[s.ooff:]...)
			s.ooff = 0
		}
		n := min(room, len(p))
		s.out = append(s.out, p[:n]...)
		p = p[n:]
		w.written += int64(n)
		c.enqueue(s)
	}
	return nil
}

func (w *ResponseWriter) sendFile(fd filefd.FD, off, n int64) error {
	s := w.s
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !w.wroteHead {
		if err := c.writeHead(s, n, nil); err != nil {
			return err
		}
	}
	if w.noBody || n <= 0 {
		return s.werr()
	}
	// Bytes already buffered go first.
	for len(s.out) > s.ooff {
		if err := s.werr(); err != nil {
			return err
		}
		s.detach()
		s.cond.Wait()
	}
	s.file = fileSeg{fd: fd, off: off, n: n}
	c.enqueue(s)
	for (s.file.n > 0 || s.file.inflight > 0) && !(s.reset && s.file.inflight == 0) && !c.dead {
		s.detach()
		s.cond.Wait()
	}
	for s.file.inflight > 0 {
		s.detach()
		s.cond.Wait()
	}
	err := s.file.err
	s.file = fileSeg{}
	if err != nil {
		return err
	}
	if err := s.werr(); err != nil {
		return err
	}
	w.written += n
	return nil
}

// lowerName describes a name that respNames does not hold as spelled: by
// its lower-case form, looked up again, or as a literal's name (immutable:
// the encoder's dynamic table keeps the strings it indexes).
func (c *conn) lowerName(name string) respName {
	var b [64]byte
	if len(name) <= len(b) {
		for i := 0; i < len(name); i++ {
			b[i] = toLower(name[i])
		}
		if rn := lookupRespName(string(b[:len(name)])); rn != nil {
			return *rn
		}
		return respName{lower: c.internValue(string(b[:len(name)])), slot: -1}
	}
	lower := make([]byte, len(name))
	for i := 0; i < len(name); i++ {
		lower[i] = toLower(name[i])
	}
	return respName{lower: string(lower), slot: -1}
}

// internValue returns an immutable copy of v, shared across responses on
// the connection: header values are often views of reused buffers, and the
// HPACK encoder keeps what it indexes.
func (c *conn) internValue(v string) string {
	if s, ok := c.intern[v]; ok {
		return s
	}
	if len(c.intern) >= 256 {
		clear(c.intern)
	}
	s := string([]byte(v))
	c.intern[s] = s
	return s
}

// httpDate is the current date, cached per second.
func httpDate() string { return h1.HTTPDate() }
