package h2

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golighty/golighty/core/bufpoison"
	"github.com/golighty/golighty/core/h1"
	"github.com/golighty/golighty/core/monoclock"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"golang.org/x/sys/unix"
)

const (
	clientPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

	// What lighttpd 1.4.69 advertises and grants.
	initialWindow  = 65536  // SETTINGS_INITIAL_WINDOW_SIZE
	connRecvWindow = 262144 // the initial WINDOW_UPDATE raises the connection window to this
	bodyWindow     = 131072 // added to the window of a stream that carries a body
	maxHeaderList  = 65535  // SETTINGS_MAX_HEADER_LIST_SIZE
	maxHeaderBlock = 65535  // encoded header block; larger is FRAME_SIZE_ERROR (lighttpd)
	maxFrameSize   = 16384  // the largest frame we accept (the protocol's default)
	headerTableMax = 4096   // HPACK dynamic table for responses, at most (lighttpd)
	windowUpdateAt = 16384  // return consumed window in units of at least this
	maxRecent      = 16     // early-answered streams remembered after they end
	earlyDiscard   = 65536  // body bytes still read after the response ended

	// Defences.
	maxBlockFrames  = 128              // HEADERS + CONTINUATION frames in one block
	floodWindow     = 10 * time.Second // budget period for frames that carry no data
	floodLimit      = 1000             // such frames allowed per period
	maxQueuedCtrl   = 1000             // control frames queued for a client that does not read
	pendingPerSlot  = 4                // queued streams allowed per handler slot
	handlerSlotsPer = 2                // handler goroutines per advertised stream
	streamOutMax    = 64 << 10         // response bytes buffered per stream
	writeBudget     = 128 << 10        // DATA payload per write
	lingerAfterEnd  = time.Second      // reading on after GOAWAY and close-write

	// lighttpd's per-round share of a stream (connection_state_machine_h2).
	quantumPlain       = 32768 - 18
	quantumIncremental = 8192
)

// connErr is a connection error: GOAWAY with code, then close.
type connErr struct {
	code http2.ErrCode
	why  string
}

func (e connErr) Error() string { return "h2: connection error " + e.code.String() + ": " + e.why }

type conn struct {
	srv  *Server
	nc   net.Conn
	rawc syscall.RawConn // nc's descriptor when it is a plain socket (writer.go)
	// The writer's raw write: its callback, bound once, and its state.
	writeFn func(fd uintptr) bool
	wp      []byte
	werrno  syscall.Errno
	iov     []unix.Iovec // the writer's file reads (readFrames)
	info    h1.ConnInfo
	br      *bufio.Reader
	fr      *http2.Framer
	dec     *hpack.Decoder
	fp      fieldParser
	cfg     *Config
	opts    h1.ParseOptions
	rdl     time.Time

	// header block being assembled (reader goroutine only)
	blk       []byte
	blkStream uint32
	blkFrames int
	blkEnd    bool
	blkSelf   bool // HEADERS priority depends on its own stream
	blkStart  time.Time
	// readAt is when the reader last got bytes after its buffer ran
	// empty: the arrival of the frames read since (a request's start).
	// One clock read per socket read, where each new stream took one. It
	// carries the wall clock (the access log's time) from monoclock.Time,
	// one clock read where time.Now makes two; the times that only bound
	// or measure durations (deadlines, idle and stall starts) come from
	// monoclock.Now.
	readAt time.Time

	flood     floodMeter
	ended     atomic.Bool // the writer is done: reading ends
	seq       int
	handlers  sync.WaitGroup
	writerEnd chan struct{}

	mu            sync.Mutex
	streams       map[uint32]*stream
	maxID         uint32 // highest stream id the client opened
	active        int    // open or half-closed streams (the concurrency limit)
	running       int    // handler goroutines
	pending       []*stream
	settingsAcked bool
	peerInitWin   int64
	peerMaxFrame  int
	sendWin       int64
	connUnacked   int64
	wfr           *http2.Framer // writes control and HEADERS frames into ctrl
	ctrl          []byte
	ctrlFrames    int
	enc           *hpack.Encoder
	encBuf        bytes.Buffer
	lit           []byte // literal fields of the head being encoded
	intern        map[string]string
	memo          fieldMemo     // the encoder's indexed fields (fieldmemo.go)
	inlineQ       []*stream     // streams to run on the reader (inline.go)
	loopEnd       chan struct{} // closed once a moved read loop finished the connection
	recent        []*stream     // early-closed streams still recognised
	sendq         []*stream
	goaway        int    // 0 none, 1 first GOAWAY sent, 2 final GOAWAY sent
	goawayID      uint32 // last stream id of the final GOAWAY
	closing       bool   // close once no stream is left
	ending        bool   // a handler asked the connection to end (EndConn)
	closeNow      bool   // flush, then close
	dead          bool
	wake          chan struct{}
	idleSince     time.Time
	// upgraded: after a 101, until the client acknowledges our SETTINGS
	// (it then parses HTTP/2), the writer sends at most one frame of data:
	// curl 7.88 fails when more than its 32 KiB buffer follows the 101.
	upgraded  bool
	earlyData int
}

func newConn(s *Server, nc net.Conn, opts *ConnOptions) *conn {
	c := &conn{
		srv:          s,
		nc:           nc,
		cfg:          s.config(),
		streams:      make(map[uint32]*stream),
		peerInitWin:  65535,
		peerMaxFrame: 16384,
		sendWin:      65535,
		wake:         make(chan struct{}, 1),
		writerEnd:    make(chan struct{}),
		intern:       make(map[string]string),
		idleSince:    monoclock.Time(),
	}
	c.readAt = c.idleSince // the bytes the engine before buffered
	if opts.Info != nil {
		c.info = *opts.Info
	} else {
		c.info = connInfo(nc, s.Token)
	}
	c.opts = c.cfg.Parse
	c.opts.MaxRequestSize = c.cfg.MaxRequestSize
	c.opts.SchemePort = 80
	if c.info.TLS {
		c.opts.SchemePort = 443
	}
	var r io.Reader = nc
	if len(opts.Buffered) > 0 {
		r = io.MultiReader(bytes.NewReader(bytes.Clone(opts.Buffered)), nc)
	}
	c.br = bufio.NewReaderSize(r, 32<<10)
	if h1.IsRawSocket(nc) {
		c.rawc, _ = nc.(syscall.Conn).SyscallConn()
	}
	c.fr = http2.NewFramer(nil, c.br)
	c.fr.SetMaxReadFrameSize(maxFrameSize)
	c.fr.SetReuseFrames()
	c.dec = hpack.NewDecoder(headerTableMax, c.fp.field)
	c.wfr = http2.NewFramer(ctrlWriter{c}, nil)
	c.enc = hpack.NewEncoder(&c.encBuf)
	return c
}

// connInfo describes nc for requests (as core/h1 does).
func connInfo(nc net.Conn, token any) h1.ConnInfo {
	ci := h1.ConnInfo{Conn: nc, RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr(), Token: token}
	if ta, ok := ci.RemoteAddr.(*net.TCPAddr); ok {
		ci.Remote = ta.AddrPort()
		ci.RemoteIP, ci.RemotePort = ci.Remote.Addr().Unmap().String(), ta.Port
	}
	if la, ok := ci.LocalAddr.(*net.TCPAddr); ok {
		ci.LocalIP, ci.LocalPort = la.AddrPort().Addr().Unmap().String(), la.Port
	}
	_, ci.TLS = nc.(*tls.Conn)
	return ci
}

// ctrlWriter appends what the write Framer produces to the control queue.
type ctrlWriter struct{ c *conn }

func (w ctrlWriter) Write(p []byte) (int, error) {
	w.c.ctrl = append(w.c.ctrl, p...)
	return len(p), nil
}

// serve runs the reader side of the connection; the writer runs in its own
// goroutine, handlers in theirs.
func (c *conn) serve(opts *ConnOptions) {
	moved := false
	defer func() {
		if !moved {
			c.finish()
		}
	}()
	c.mu.Lock()
	if opts.Upgrade != nil {
		c.upgraded = true
		c.ctrl = append(c.ctrl, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"...)
	}
	c.wfr.WriteSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.cfg.MaxConcurrentStreams},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: initialWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: maxHeaderList},
		http2.Setting{ID: 9, Val: 1}, // SETTINGS_NO_RFC7540_PRIORITIES (RFC 9218)
	)
	c.wfr.WriteWindowUpdate(0, connRecvWindow-65535)
	var err error
	if opts.Upgrade != nil && len(opts.Settings) > 0 {
		err = c.applySettings(opts.Settings)
	}
	c.mu.Unlock()
	go c.writeLoop()
	c.signal()
	if err == nil {
		err = c.readPreface()
	}
	if err == nil && opts.Upgrade != nil {
		c.startUpgraded(opts.Upgrade)
	}
	if err == nil {
		err = c.readLoop()
	}
	if moved = err == errReaderMoved; moved {
		<-c.loopEnd // the goroutine reading last finished the connection
		return
	}
	c.endReading(err)
}

// endReading answers the error that ended the reading: a connection error
// with GOAWAY before the connection finishes.
func (c *conn) endReading(err error) {
	var ce connErr
	if errors.As(err, &ce) {
		c.mu.Lock()
		c.goAway(ce.code)
		c.closeNow = true
		c.mu.Unlock()
		c.signal()
	}
}

// finish ends the connection: the writer flushes what it can and closes,
// handlers see their streams fail, and the socket is closed once all are
// done.
func (c *conn) finish() {
	c.mu.Lock()
	c.closeNow = true
	c.mu.Unlock()
	c.signal()
	select {
	case <-c.writerEnd:
		// Read what the client still sends for a moment, so that closing
		// with unread data does not reset the connection before the
		// client has read our last frames.
		c.nc.SetReadDeadline(time.Now().Add(lingerAfterEnd))
		io.CopyN(io.Discard, c.br, 1<<20)
	case <-time.After(lingerAfterEnd):
	}
	c.nc.Close()
	c.mu.Lock()
	c.dead = true
	for _, s := range c.streams {
		c.failStream(s, ErrStreamClosed)
	}
	for _, s := range c.pending {
		s.rerr = ErrStreamClosed
	}
	c.pending = nil
	c.mu.Unlock()
	c.signal()
	<-c.writerEnd
	c.handlers.Wait()
}

func (c *conn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) readPreface() error {
	c.nc.SetReadDeadline(time.Now().Add(c.cfg.HeadTimeout))
	var p [len(clientPreface)]byte
	if _, err := io.ReadFull(c.br, p[:]); err != nil {
		return err
	}
	c.readAt = monoclock.Time() // the first frames may have come with it
	if string(p[:]) != clientPreface {
		return connErr{http2.ErrCodeProtocol, "bad connection preface"}
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readFrame reads and handles one frame. Between frames the connection may
// idle: waiting for the first byte of a frame times out harmlessly (idle
// and body-read limits are checked then); a frame, once begun, must arrive
// within server.max-read-idle.
func (c *conn) readFrame() error {
	if c.ended.Load() {
		return io.EOF
	}
	if c.br.Buffered() == 0 {
		c.setReadDeadline(c.idleDeadline())
		if c.ended.Load() { // the writer may have just set a deadline of now
			return io.EOF
		}
		if _, err := c.br.Peek(1); err != nil {
			if isTimeout(err) {
				return c.onIdleTimeout()
			}
			return err
		}
		c.readAt = monoclock.Time()
	}
	buffered := c.frameBuffered()
	if !buffered {
		d := monoclock.Now().Add(c.cfg.MaxReadIdle)
		if c.blkStream != 0 && c.blkStart.Add(c.cfg.HeadTimeout).Before(d) {
			d = c.blkStart.Add(c.cfg.HeadTimeout)
		}
		c.setReadDeadline(d)
	}
	fh, err := c.fr.ReadFrameHeader() // also checks the size and CONTINUATION's order
	if err != nil {
		return c.frameError(err)
	}
	if fh.Type == http2.FrameHeaders {
		hf, err := c.readHeadersFrame(fh)
		if err != nil {
			return c.frameError(err)
		}
		if !buffered {
			c.readAt = monoclock.Time()
		}
		return c.headers(hf)
	}
	f, err := c.fr.ReadFrameForHeader(fh)
	if err != nil {
		return c.frameError(err)
	}
	if !buffered {
		c.readAt = monoclock.Time() // the frame's rest came in a read of its own
	}
	return c.handleFrame(f)
}

// headersFrame is what headers needs of a HEADERS frame, whose header block
// fragment readHeadersFrame left in c.blk.
type headersFrame struct {
	id                    uint32
	endStream, endHeaders bool
	selfDep               bool // a priority that depends on its own stream
}

// readHeadersFrame reads the payload of the HEADERS frame fh into c.blk
// and keeps only its header block fragment there. x/net's Framer makes a
// HeadersFrame for every one (an allocation per request); its checks and
// errors are the same here. A header block cannot be in progress: the
// Framer refuses anything but CONTINUATION then.
func (c *conn) readHeadersFrame(fh http2.FrameHeader) (headersFrame, error) {
	n := int(fh.Length)
	if cap(c.blk) < n {
		c.blk = make([]byte, n)
	}
	c.blk = c.blk[:n]
	p := c.blk
	if _, err := io.ReadFull(c.br, p); err != nil {
		return headersFrame{}, err
	}
	hf := headersFrame{id: fh.StreamID, endStream: fh.Flags.Has(http2.FlagHeadersEndStream), endHeaders: fh.Flags.Has(http2.FlagHeadersEndHeaders)}
	if hf.id == 0 {
		return hf, http2.ConnectionError(http2.ErrCodeProtocol)
	}
	pad := 0
	if fh.Flags.Has(http2.FlagHeadersPadded) {
		if len(p) < 1 {
			return hf, io.ErrUnexpectedEOF
		}
		pad, p = int(p[0]), p[1:]
	}
	if fh.Flags.Has(http2.FlagHeadersPriority) {
		if len(p) < 5 {
			return hf, io.ErrUnexpectedEOF
		}
		hf.selfDep = binary.BigEndian.Uint32(p)&0x7fffffff == hf.id
		p = p[5:]
	}
	if len(p) < pad {
		return hf, http2.StreamError{StreamID: hf.id, Code: http2.ErrCodeProtocol}
	}
	c.blk = c.blk[:copy(c.blk, p[:len(p)-pad])]
	return hf, nil
}

// frameBuffered reports whether the next frame is wholly in the buffer (no
// read, so no deadline, is needed for it).
func (c *conn) frameBuffered() bool {
	n := c.br.Buffered()
	if n < 9 {
		return false
	}
	h, _ := c.br.Peek(3)
	return n >= 9+(int(h[0])<<16|int(h[1])<<8|int(h[2]))
}

func (c *conn) setReadDeadline(d time.Time) {
	// lighttpd checks timeouts once a second: a deadline may lag by that.
	if c.rdl.IsZero() || d.Before(c.rdl) || d.Sub(c.rdl) >= time.Second {
		c.nc.SetReadDeadline(d)
		c.rdl = d
	}
}

// idleDeadline is when waiting for the next frame ends: the keep-alive
// limit without streams, the header-block deadline inside one, else the
// read-idle limit (body reads are checked per stream then).
func (c *conn) idleDeadline() time.Time {
	now := monoclock.Now()
	if c.blkStream != 0 {
		return c.blkStart.Add(c.cfg.HeadTimeout)
	}
	c.mu.Lock()
	idle := c.active == 0 && c.running == 0 && len(c.pending) == 0
	since := c.idleSince
	c.mu.Unlock()
	if idle {
		return since.Add(c.cfg.MaxKeepAliveIdle)
	}
	if now.Add(c.cfg.MaxReadIdle).Before(c.rdl) || c.rdl.Before(now) {
		return now.Add(min(c.cfg.MaxReadIdle, time.Second*10))
	}
	return c.rdl
}

// onIdleTimeout handles a read deadline passing between frames.
func (c *conn) onIdleTimeout() error {
	c.rdl = time.Time{}
	if c.ended.Load() {
		return io.EOF
	}
	now := monoclock.Now()
	if c.blkStream != 0 {
		return connErr{http2.ErrCodeProtocol, "header block timeout"}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active == 0 && c.running == 0 && len(c.pending) == 0 {
		if now.Sub(c.idleSince) >= c.cfg.MaxKeepAliveIdle {
			c.goAway(http2.ErrCodeNo)
			c.closeNow = true
			c.signal()
			return io.EOF
		}
		return nil
	}
	for _, s := range c.streams {
		if (s.st == stateOpen || s.st == stateHalfClosedLocal) && !s.reset && now.Sub(s.lastRecv) >= c.cfg.MaxReadIdle {
			s.rerr = BodyTimeoutError{}
			c.resetStream(s, http2.ErrCodeCancel)
		}
	}
	return nil
}

// frameError turns a read error into the connection's fate: a stream
// error resets that stream and reading goes on.
func (c *conn) frameError(err error) error {
	var se http2.StreamError
	switch {
	case errors.As(err, &se):
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.blkStream == se.StreamID {
			// The block's HPACK state is lost with it.
			return connErr{http2.ErrCodeProtocol, "bad header frame"}
		}
		if s := c.streams[se.StreamID]; s != nil && s.st != stateClosed {
			c.resetStream(s, se.Code)
		} else {
			c.writeRST(se.StreamID, se.Code)
		}
		return c.overQueued()
	case errors.Is(err, http2.ErrFrameTooLarge):
		return connErr{http2.ErrCodeFrameSize, "frame too large"}
	}
	var ce http2.ConnectionError
	if errors.As(err, &ce) {
		return connErr{http2.ErrCode(ce), "frame"}
	}
	return err
}

// floodMeter counts frames that carry no request or response data.
type floodMeter struct {
	start time.Time
	n     int
}

func (m *floodMeter) add() bool {
	now := monoclock.Now()
	if now.Sub(m.start) > floodWindow {
		m.start, m.n = now, 0
	}
	m.n++
	return m.n > floodLimit
}

func (c *conn) cheap() error {
	if c.flood.add() {
		return connErr{http2.ErrCodeEnhanceYourCalm, "too many frames without data"}
	}
	return nil
}

// overQueued reports a client that does not read what it provokes.
func (c *conn) overQueued() error {
	if c.ctrlFrames > maxQueuedCtrl {
		return connErr{http2.ErrCodeEnhanceYourCalm, "control frames not read"}
	}
	return nil
}

func (c *conn) handleFrame(f http2.Frame) error {
	if c.blkStream != 0 {
		if cf, ok := f.(*http2.ContinuationFrame); ok {
			return c.continuation(cf)
		}
		return connErr{http2.ErrCodeProtocol, "expected CONTINUATION"}
	}
	switch f := f.(type) {
	case *http2.DataFrame:
		return c.data(f)
	case *http2.SettingsFrame:
		return c.settings(f)
	case *http2.PingFrame:
		if f.StreamID != 0 {
			return connErr{http2.ErrCodeProtocol, "PING on a stream"}
		}
		if err := c.cheap(); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if f.IsAck() {
			if f.Data == shutdownPing && c.goaway == 1 {
				c.finalGoAway()
			}
			return nil
		}
		c.wfr.WritePing(true, f.Data)
		c.queued()
		return c.overQueued()
	case *http2.WindowUpdateFrame:
		return c.windowUpdate(f)
	case *http2.RSTStreamFrame:
		return c.rstStream(f)
	case *http2.PriorityFrame:
		if err := c.cheap(); err != nil {
			return err
		}
		if f.StreamDep == f.StreamID {
			c.mu.Lock()
			defer c.mu.Unlock()
			if s := c.streams[f.StreamID]; s != nil {
				c.resetStream(s, http2.ErrCodeProtocol)
			} else {
				c.writeRST(f.StreamID, http2.ErrCodeProtocol)
			}
			return c.overQueued()
		}
		return nil // RFC 7540 priorities are ignored, as lighttpd does
	case *http2.PriorityUpdateFrame:
		if err := c.cheap(); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if s := c.streams[f.PrioritizedStreamID]; s != nil {
			c.setPriority(s, parsePriority(f.Priority))
		}
		return nil
	case *http2.GoAwayFrame:
		c.mu.Lock()
		defer c.mu.Unlock()
		// The client opens no more streams: finish the open ones, then go.
		c.closing = true
		if f.ErrCode != http2.ErrCodeNo {
			c.goAway(http2.ErrCodeProtocol)
			c.closeNow = true
			c.signal()
			return io.EOF
		}
		c.goAway(http2.ErrCodeNo)
		c.maybeClose()
		return nil
	case *http2.PushPromiseFrame:
		return connErr{http2.ErrCodeProtocol, "PUSH_PROMISE from a client"}
	case *http2.ContinuationFrame:
		return connErr{http2.ErrCodeProtocol, "CONTINUATION without HEADERS"}
	default:
		return c.cheap() // unknown frame types are ignored
	}
}

func (c *conn) settings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		c.mu.Lock()
		c.settingsAcked = true
		c.upgraded = false
		c.mu.Unlock()
		c.signal()
		return nil
	}
	if err := c.cheap(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := f.ForeachSetting(c.applySetting)
	if err != nil {
		var ce http2.ConnectionError
		if errors.As(err, &ce) {
			return connErr{http2.ErrCode(ce), "bad setting"}
		}
		return err
	}
	c.wfr.WriteSettingsAck()
	c.queued()
	return c.overQueued()
}

// applySettings applies an HTTP2-Settings payload (Upgrade: h2c), which is
// not acknowledged.
func (c *conn) applySettings(p []byte) error {
	if len(p)%6 != 0 {
		return connErr{http2.ErrCodeProtocol, "bad HTTP2-Settings"}
	}
	for ; len(p) >= 6; p = p[6:] {
		s := http2.Setting{ID: http2.SettingID(uint16(p[0])<<8 | uint16(p[1])), Val: uint32(p[2])<<24 | uint32(p[3])<<16 | uint32(p[4])<<8 | uint32(p[5])}
		if err := c.applySetting(s); err != nil {
			return connErr{http2.ErrCodeProtocol, "bad HTTP2-Settings"}
		}
	}
	return nil
}

func (c *conn) applySetting(s http2.Setting) error {
	if err := s.Valid(); err != nil {
		return err
	}
	switch s.ID {
	case http2.SettingInitialWindowSize:
		delta := int64(s.Val) - c.peerInitWin
		c.peerInitWin = int64(s.Val)
		for _, st := range c.streams {
			st.sendWin += delta
			if st.sendWin > 1<<31-1 {
				return http2.ConnectionError(http2.ErrCodeFlowControl)
			}
		}
		if delta > 0 {
			c.signal()
		}
	case http2.SettingMaxFrameSize:
		c.peerMaxFrame = int(s.Val)
	case http2.SettingHeaderTableSize:
		c.setPeerTableSize(s.Val)
	}
	return nil
}

func (c *conn) windowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		c.sendWin += inc
		if c.sendWin > 1<<31-1 {
			return connErr{http2.ErrCodeFlowControl, "connection window overflow"}
		}
		c.signal()
		return nil
	}
	if f.StreamID > c.maxID {
		return connErr{http2.ErrCodeProtocol, "WINDOW_UPDATE on an idle stream"}
	}
	s := c.streams[f.StreamID]
	if s != nil && s.early && !s.peerRst {
		// Answered early: the window is still the client's to get right.
		if s.sendWin += inc; s.sendWin > 1<<31-1 {
			s.early = false
			c.writeRST(s.id, http2.ErrCodeFlowControl)
		}
		return c.cheap()
	}
	if s == nil || s.reset {
		return c.cheap()
	}
	s.sendWin += inc
	if s.sendWin > 1<<31-1 {
		c.resetStream(s, http2.ErrCodeFlowControl)
		return c.overQueued()
	}
	if s.queued {
		c.signal()
	}
	return nil
}

func (c *conn) rstStream(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.StreamID > c.maxID {
		return connErr{http2.ErrCodeProtocol, "RST_STREAM on an idle stream"}
	}
	s := c.streams[f.StreamID]
	if s == nil {
		return c.cheapLocked()
	}
	if !s.handlerDone {
		// A reset of a stream still being served (rapid reset) costs the
		// flood budget; its handler keeps its slot until it returns.
		if err := c.cheapLocked(); err != nil {
			return err
		}
	}
	s.peerRst = true
	s.rerr = ErrStreamClosed
	c.closeStream(s)
	return nil
}

func (c *conn) cheapLocked() error {
	if c.flood.add() {
		return connErr{http2.ErrCodeEnhanceYourCalm, "too many frames without data"}
	}
	return nil
}

// data handles a DATA frame: flow control first (the whole frame counts,
// padding included), then the stream.
func (c *conn) data(f *http2.DataFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := int64(f.Length)
	if f.StreamID > c.maxID {
		return connErr{http2.ErrCodeProtocol, "DATA on an idle stream"}
	}
	// The connection window is returned at once: each stream's own window
	// bounds what is buffered.
	c.connUnacked += n
	if c.connUnacked >= windowUpdateAt {
		c.wfr.WriteWindowUpdate(0, uint32(c.connUnacked))
		c.connUnacked = 0
		c.queued()
	}
	data := f.Data()
	s := c.streams[f.StreamID]
	if s == nil || s.st == stateHalfClosedRemote || s.st == stateClosed {
		switch {
		case s == nil || s.peerRst:
			c.writeRST(f.StreamID, http2.ErrCodeStreamClosed)
		case s.early:
			// Answered before its body arrived and told to stop with
			// NO_ERROR: data still in flight is dropped, but a body
			// longer than its content-length is still malformed.
			s.received += int64(len(data))
			if cl := s.req.ContentLength; cl >= 0 && s.received > cl {
				s.early = false
				c.writeRST(f.StreamID, http2.ErrCodeProtocol)
			}
		case s.st == stateHalfClosedRemote:
			c.resetStream(s, http2.ErrCodeStreamClosed)
		case !s.reset:
			// Closed by its response, still on its way out of the
			// map: as for a stream already gone.
			c.writeRST(f.StreamID, http2.ErrCodeStreamClosed)
		}
		if err := c.cheapLocked(); err != nil {
			return err
		}
		return c.overQueued()
	}
	if len(data) == 0 && !f.StreamEnded() {
		if err := c.cheapLocked(); err != nil {
			return err
		}
	}
	s.recvWin -= n
	if s.recvWin < 0 {
		c.resetStream(s, http2.ErrCodeFlowControl)
		return c.overQueued()
	}
	s.received += int64(len(data))
	s.lastRecv = monoclock.Now()
	if cl := s.req.ContentLength; cl >= 0 && (s.received > cl || f.StreamEnded() && s.received != cl) {
		c.resetStream(s, http2.ErrCodeProtocol)
		return c.overQueued()
	}
	// Padding is consumed at once.
	if pad := n - int64(len(data)); pad > 0 {
		c.returnWindow(s, pad)
	}
	switch {
	case s.endSent && s.st == stateHalfClosedLocal:
		// Answered already: the rest of a small body is read and dropped
		// (see localEnd); past earlyDiscard the client is told to stop.
		c.returnWindow(s, int64(len(data)))
		if s.received > earlyDiscard && !f.StreamEnded() {
			c.endEarly(s)
			return c.overQueued()
		}
	case s.rerr != nil || s.req.Status != 0:
		// Nobody reads this body any more: drop it, keep the window open.
		c.returnWindow(s, int64(len(data)))
	case c.cfg.MaxRequestSize > 0 && s.received > c.cfg.MaxRequestSize:
		s.rerr = errTooLarge
		s.rbuf, s.roff = s.rbuf[:0], 0
	default:
		s.rbuf = append(s.rbuf, data...)
	}
	if f.StreamEnded() {
		c.remoteEnd(s)
	}
	s.cond.Broadcast()
	return nil
}

// returnWindow gives consumed bytes back to the client in units of at
// least 16 KiB (lighttpd's fudge) while the stream still receives.
func (c *conn) returnWindow(s *stream, n int64) {
	s.unacked += n
	if s.unacked < windowUpdateAt || (s.st != stateOpen && s.st != stateHalfClosedLocal) || s.reset {
		return
	}
	c.wfr.WriteWindowUpdate(s.id, uint32(s.unacked))
	s.recvWin += s.unacked
	s.unacked = 0
	c.queued()
}

// headers handles a HEADERS frame (its fragment in c.blk): a new stream, or
// trailers.
func (c *conn) headers(f headersFrame) error {
	id := f.id
	if id&1 == 0 {
		return connErr{http2.ErrCodeProtocol, "even stream id"}
	}
	if len(c.blk) == 0 && !f.endHeaders {
		if err := c.cheap(); err != nil {
			return err
		}
	}
	c.blkStream, c.blkFrames, c.blkEnd = id, 1, f.endStream
	c.blkSelf = f.selfDep
	if f.endHeaders {
		return c.endBlock()
	}
	c.blkStart = monoclock.Now()
	return nil
}

func (c *conn) continuation(f *http2.ContinuationFrame) error {
	frag := f.HeaderBlockFragment()
	c.blkFrames++
	if len(frag) == 0 && !f.HeadersEnded() {
		if err := c.cheap(); err != nil {
			return err
		}
	}
	if len(c.blk)+len(frag) > maxHeaderBlock {
		return connErr{http2.ErrCodeFrameSize, "header block too large"}
	}
	if c.blkFrames > maxBlockFrames {
		return connErr{http2.ErrCodeEnhanceYourCalm, "too many CONTINUATION frames"}
	}
	c.blk = append(c.blk, frag...)
	if f.HeadersEnded() {
		return c.endBlock()
	}
	return nil
}

// endBlock decodes a complete header block and opens the stream (or takes
// the trailers).
func (c *conn) endBlock() error {
	id, end := c.blkStream, c.blkEnd
	c.blkStream = 0
	c.mu.Lock()
	s := c.streams[id]
	trailers := false
	switch {
	case id > c.maxID:
		c.maxID = id
	case s != nil && (s.st == stateOpen || s.st == stateHalfClosedLocal) && !s.reset:
		trailers = true
	case s != nil && s.st == stateHalfClosedRemote && !s.reset,
		s != nil && s.st == stateClosed && (s.early || s.reset) && !s.peerRst:
		c.mu.Unlock()
		// Decoded to keep HPACK in step, then refused (half-closed) or
		// ignored (a stream we reset may still receive what was in flight).
		if err := c.decode(&Request{}, nil, true); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		switch {
		case s.st == stateHalfClosedRemote:
			c.resetStream(s, http2.ErrCodeStreamClosed)
		case s.early && (!end || c.fp.malformed != ""):
			// Trailers must end the stream, even one answered early.
			s.early = false
			c.writeRST(id, http2.ErrCodeProtocol)
		case !s.early && !s.reset:
			// The response ended while the block was decoded: the
			// stream it was refused on is closed now.
			return connErr{http2.ErrCodeStreamClosed, "HEADERS on a closed stream"}
		}
		return c.overQueued()
	default:
		c.mu.Unlock()
		return connErr{http2.ErrCodeStreamClosed, "HEADERS on a closed stream"}
	}
	c.mu.Unlock()
	if trailers {
		if err := c.decode(&Request{}, nil, true); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if !end || c.fp.malformed != "" {
			c.resetStream(s, http2.ErrCodeProtocol)
			return c.overQueued()
		}
		if cl := s.req.ContentLength; cl >= 0 && s.received != cl {
			c.resetStream(s, http2.ErrCodeProtocol)
			return c.overQueued()
		}
		c.remoteEnd(s)
		s.cond.Broadcast()
		return nil
	}
	return c.newStream(id, end)
}

// decode runs the HPACK decoder over the current block into r.
func (c *conn) decode(r *Request, scratch *[]byte, trailer bool) error {
	if scratch == nil {
		scratch = new([]byte) // (a variable of decode's own escaped on every call)
	}
	c.fp.reset(r, scratch, &c.opts, c.cfg.MaxRequestFieldSize, trailer)
	if _, err := c.dec.Write(c.blk); err != nil {
		return connErr{http2.ErrCodeCompression, "bad header block"}
	}
	if err := c.dec.Close(); err != nil {
		return connErr{http2.ErrCodeCompression, "truncated header block"}
	}
	return nil
}

func (c *conn) newStream(id uint32, end bool) error {
	s := c.newStreamObj(id)
	r := &s.req
	if err := c.decode(r, &s.scratch, false); err != nil {
		return err
	}
	c.fp.finish(end)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goaway == 2 && id > c.goawayID {
		freeStream(s)
		return nil // after the final GOAWAY: decoded for HPACK, then ignored
	}
	s.st = stateOpen
	if end {
		s.st = stateHalfClosedRemote
	}
	s.sendWin = c.peerInitWin
	s.recvWin = initialWindow
	s.lastRecv = c.readAt
	r.Arrived = c.readAt
	c.streams[id] = s
	s.counted = true
	c.active++
	if c.fp.malformed != "" || c.blkSelf {
		c.resetStream(s, http2.ErrCodeProtocol)
		return c.overQueued()
	}
	if c.active > int(c.cfg.MaxConcurrentStreams) && c.settingsAcked {
		c.resetStream(s, http2.ErrCodeRefusedStream)
		return c.overQueued()
	}
	if r.ContentLength != 0 && r.Status == 0 {
		c.wfr.WriteWindowUpdate(id, bodyWindow)
		s.recvWin += bodyWindow
		c.queued()
	}
	if r.ContentLength != 0 {
		r.Body = &s.body
	}
	c.seq++
	r.Seq = c.seq
	s.prio = requestPriority(s)
	return c.dispatch(s)
}

// dispatch starts the handler of s, or queues s while all handler slots
// are taken (streams reset by the client keep their slot until their
// handler returns: the rapid-reset defence).
func (c *conn) dispatch(s *stream) error {
	if c.running < c.slots() {
		if c.cfg.Inline && s.st == stateHalfClosedRemote && s.req.Body == nil {
			c.launchInline(s)
		} else {
			c.launch(s)
		}
		return nil
	}
	s.inPending = true
	c.pending = append(c.pending, s)
	if len(c.pending) > pendingPerSlot*c.slots() {
		return connErr{http2.ErrCodeEnhanceYourCalm, "too many streams waiting"}
	}
	return nil
}

func (c *conn) slots() int { return handlerSlotsPer * int(c.cfg.MaxConcurrentStreams) }

func (c *conn) launch(s *stream) {
	s.started = true
	c.running++
	c.handlers.Add(1)
	c.srv.requests.Add(1)
	c.srv.run(s)
}

// runHandler runs s's handler; for a stream run inline it reports whether
// the reader's role moved to another goroutine meanwhile.
func (c *conn) runHandler(s *stream) (moved bool) {
	inline := s.inline
	defer c.handlers.Done()
	defer func() {
		// Read before handlerDone, which may free s.
		moved = inline && !s.inline
		s.inline = false
		if v := recover(); v != nil {
			if c.srv.OnPanic != nil {
				c.srv.OnPanic(v)
			}
			c.mu.Lock()
			if !s.endSent && !s.reset {
				c.resetStream(s, http2.ErrCodeInternal)
			}
			c.mu.Unlock()
		}
		c.handlerDone(s)
	}()
	c.srv.Handler.ServeH2(&s.rw, &s.req)
	s.rw.finish()
	return
}

// handlerDone frees the handler's slot and starts a queued stream.
func (c *conn) handlerDone(s *stream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s.handlerDone = true
	c.running--
	bufpoison.Fill(s.scratch[:cap(s.scratch)])
	for len(c.pending) > 0 && c.running < c.slots() && !c.dead {
		p := c.pending[0]
		c.pending = c.pending[1:]
		p.inPending = false
		if p.rerr == nil && !p.reset {
			c.launch(p)
		} else {
			c.release(p)
		}
	}
	c.release(s)
	c.maybeClose()
}

// release forgets s once nothing refers to it any more. The last few
// streams answered before their body arrived are remembered a while longer
// (see data).
func (c *conn) release(s *stream) {
	if s.st != stateClosed || (s.started && !s.handlerDone) || s.queued || s.file.inflight > 0 || s.inPending {
		return
	}
	if c.streams[s.id] != s {
		if !s.remembered && !c.dead {
			freeStream(s) // never entered the map (refused after GOAWAY)
		}
		return
	}
	if s.early && !s.remembered {
		s.remembered = true
		c.recent = append(c.recent, s)
		if len(c.recent) <= maxRecent {
			return
		}
		s = c.recent[0]
		c.recent = c.recent[1:]
	}
	delete(c.streams, s.id)
	if !c.dead {
		freeStream(s)
	}
}

var streamPool = sync.Pool{New: func() any { return new(stream) }}

// newStreamObj takes a stream from the pool, keeping the buffers of its
// last use.
func (c *conn) newStreamObj(id uint32) *stream {
	s := streamPool.Get().(*stream)
	scratch, hdrs, fields, out := s.scratch[:0], s.req.Headers[:0], s.rw.fields[:0], s.out[:0]
	*s = stream{c: c, id: id, prio: defaultPriority, declared: -1, scratch: scratch, out: out}
	s.req.Headers, s.rw.fields = hdrs, fields
	s.cond.L = &c.mu
	s.body.s = s
	s.rw.s = s
	s.req.StreamID = id
	s.req.Conn = &c.info
	return s
}

// freeStream returns a stream nothing refers to any more to the pool.
func freeStream(s *stream) {
	if cap(s.out) > streamOutMax || cap(s.scratch) > 64<<10 {
		return
	}
	clear(s.req.Headers[:cap(s.req.Headers)])
	clear(s.rw.fields[:cap(s.rw.fields)])
	s.req = Request{Headers: s.req.Headers[:0]}
	s.rbuf, s.file, s.c = nil, fileSeg{}, nil
	streamPool.Put(s)
}

// remoteEnd records END_STREAM from the client.
func (c *conn) remoteEnd(s *stream) {
	switch s.st {
	case stateOpen:
		s.st = stateHalfClosedRemote
	case stateHalfClosedLocal:
		c.closeStream(s)
	}
}

// closeStream moves s to closed.
func (c *conn) closeStream(s *stream) {
	if s.st == stateClosed {
		return
	}
	s.st = stateClosed
	if !s.endSent {
		s.reset = true
		c.dropOutput(s)
	}
	if s.counted {
		s.counted = false
		c.active--
		if c.active == 0 {
			c.idleSince = monoclock.Now()
		}
	}
	s.cond.Broadcast()
	c.release(s)
	c.maybeClose()
}

// resetStream sends RST_STREAM and closes s.
func (c *conn) resetStream(s *stream, code http2.ErrCode) {
	if s.st == stateClosed {
		return
	}
	c.writeRST(s.id, code)
	if s.rerr == nil {
		s.rerr = ErrStreamClosed
	}
	s.reset = true
	c.closeStream(s)
}

// failStream wakes everyone waiting on s after the connection died.
func (c *conn) failStream(s *stream, err error) {
	if s.rerr == nil {
		s.rerr = err
	}
	s.reset = true
	c.dropOutput(s)
	s.cond.Broadcast()
}

func (c *conn) dropOutput(s *stream) {
	s.out, s.ooff = nil, 0
	s.file.n = 0
	if s.queued {
		c.unqueue(s)
	}
}

func (c *conn) writeRST(id uint32, code http2.ErrCode) {
	c.wfr.WriteRSTStream(id, code)
	c.queued()
}

// queued notes a control frame in the queue and wakes the writer.
func (c *conn) queued() {
	c.ctrlFrames++
	c.signal()
}

// goAway queues a GOAWAY naming the last stream we process.
func (c *conn) goAway(code http2.ErrCode) {
	if c.goaway == 2 {
		return
	}
	c.goaway, c.goawayID = 2, c.maxID
	c.wfr.WriteGoAway(c.maxID, code, nil)
	c.queued()
}

var shutdownPing = [8]byte{'g', 'o', 'l', 'i', 'g', 'h', 't', 'y'}

// beginShutdown starts a graceful close: GOAWAY with the largest stream id
// and a PING; when the PING comes back (every stream the client sent
// before seeing the GOAWAY has then arrived) the final GOAWAY names the
// last stream, and the connection closes when its streams are done.
func (c *conn) beginShutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goaway != 0 || c.dead {
		return
	}
	c.goaway = 1
	c.closing = true
	c.wfr.WriteGoAway(1<<31-1, http2.ErrCodeNo, nil)
	c.wfr.WritePing(false, shutdownPing)
	c.queued()
	time.AfterFunc(time.Second, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.finalGoAway()
	})
}

func (c *conn) finalGoAway() {
	if c.goaway != 1 || c.dead {
		return
	}
	c.goAway(http2.ErrCodeNo)
	c.maybeClose()
}

// maybeClose closes a connection that is going away once its last stream
// is done.
func (c *conn) maybeClose() {
	if c.closing && c.goaway == 2 && c.active == 0 && c.running == 0 && len(c.pending) == 0 {
		c.closeNow = true
		c.signal()
	}
}

// startUpgraded serves the request that asked for "Upgrade: h2c" as stream
// 1, half-closed (remote).
func (c *conn) startUpgraded(up *h1.Request) {
	s := c.newStreamObj(1)
	r := &s.req
	r.Method = up.Method
	sc := s.scratch
	clone := func(b []byte) []byte {
		start := len(sc)
		sc = append(sc, b...)
		return sc[start:len(sc):len(sc)]
	}
	r.Target = clone(up.Target)
	r.Headers = make([]h1.Header, 0, len(up.Headers))
	for _, h := range up.Headers {
		r.Headers = append(r.Headers, h1.Header{Name: clone(h.Name), Value: clone(h.Value)})
		if eqFold(h.Name, "Host") {
			r.Host = r.Headers[len(r.Headers)-1].Value
		}
	}
	s.scratch = sc
	r.HeadLen = up.HeadLen
	r.Status, r.Reason = up.Status, up.Reason
	r.Expect100 = false
	c.mu.Lock()
	defer c.mu.Unlock()
	c.maxID = 1
	s.st = stateHalfClosedRemote
	s.sendWin = c.peerInitWin
	c.streams[1] = s
	s.counted = true
	c.active++
	c.seq = up.Seq
	r.Seq = up.Seq
	r.Arrived = monoclock.Time()
	c.dispatch(s) // default priority: lighttpd's heuristics skip this stream
}

// sortSendq keeps the send queue in lighttpd's order: urgency, then
// incremental before not, then stream id.
func (c *conn) sortSendq() {
	sort.Slice(c.sendq, func(i, j int) bool { return before(c.sendq[i], c.sendq[j]) })
}

func (c *conn) enqueue(s *stream) {
	if s.queued || s.reset {
		return
	}
	s.queued = true
	i := len(c.sendq)
	c.sendq = append(c.sendq, s)
	for ; i > 0 && before(s, c.sendq[i-1]); i-- {
		c.sendq[i] = c.sendq[i-1]
	}
	c.sendq[i] = s
	c.signal()
}

func before(a, b *stream) bool {
	return a.prio < b.prio || a.prio == b.prio && a.id < b.id
}

func (c *conn) unqueue(s *stream) {
	for i, q := range c.sendq {
		if q == s {
			c.sendq = append(c.sendq[:i], c.sendq[i+1:]...)
			break
		}
	}
	s.queued = false
}

func (c *conn) setPriority(s *stream, p uint8) {
	if s.prio == p {
		return
	}
	s.prio = p
	if s.queued {
		c.sortSendq()
	}
}
