package core

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/golighty/golighty/core/bufpoison"
	"github.com/golighty/golighty/core/filefd"
	"github.com/golighty/golighty/core/proxyhdr"
	"github.com/golighty/golighty/core/statcache"
)

// ConnInfo describes the connection a request arrived on.
type ConnInfo struct {
	RemoteIP   string // $HTTP["remoteip"], REMOTE_ADDR
	RemotePort int
	LocalIP    string // SERVER_ADDR
	LocalPort  int    // SERVER_PORT
	Socket     string // $SERVER["socket"] token of the listener, e.g. ":8080"
	TLS        bool
	Requests   int // requests served on this connection before this one
	// Proxy is the PROXY protocol header the connection started with (nil
	// when none was read); it lasts for the connection.
	Proxy *proxyhdr.Header
}

// URI is the request's URL in the forms lighttpd keeps (behaviors.md §2.4).
type URI struct {
	Scheme    string // "http" or "https"
	Authority string // normalized lower-case host[:port]; "" when absent
	Target    string // normalized target incl. query (url.rewrite/redirect)
	PathRaw   string // path part of Target, still percent-encoded
	Path      string // decoded, simplified path ($HTTP["url"], file mapping)
	Query     string // normalized query without '?'
}

// Physical is the file-system side of a request.
type Physical struct {
	DocRoot  string // document root used (DOCUMENT_ROOT)
	BasePath string // directory the URL path is mapped below (alias target)
	RelPath  string // URL path as mapped (lower-cased with force-lowercase)
	Path     string // the file the request maps to
}

// Request is one HTTP request on its way through lighttpd's phases. Requests
// are pooled and reset; modules must not keep references after RequestDone.
//
// Who may keep what (the view rule): Target, Method, Header names and
// values, the URI fields and Phys.Path are views of buffers the server
// reuses once the request ends (the connection's read buffer, the request's
// own path buffer), which is why reading them costs no allocation. Use them
// freely while the request runs. Anything that outlives the request (a map
// key or cache entry, module state kept across requests, a log line written
// later, a goroutine, an error kept, anything a snapshot or reload keeps)
// must hold a copy (strings.Clone). Handlers must not return while a
// goroutine of theirs still reads Body: stop it with InterruptBody and wait.
// Tests run with core/bufpoison, which overwrites those buffers as soon as
// the request ends, so a kept view fails at once.
type Request struct {
	Snap *Snapshot
	Conn ConnInfo

	Method      string
	Proto       int    // 10, 11 or 20 (HTTP/2)
	Target      string // original request-target as received (REQUEST_URI)
	Header      Headers
	Body        io.Reader // request body (nil when none)
	BodyLength  int64     // Content-Length, -1 for chunked, 0 when none
	Start       time.Time
	RemoteUser  string // set by mod_auth
	AuthType    string
	URI         URI
	Phys        Physical
	PathInfo    string
	Env         Headers // setenv.add-environment and friends, for backends
	Conf        CoreConf
	Handler     Handler
	HandlerName string // module that handles the request (for debug logs)

	Resp Response

	// ErrorStatus is the status that triggered an error handler (REDIRECT_STATUS).
	ErrorStatus int

	// Accounting for mod_accesslog, final when RequestDone hooks run.
	HeadLen     int   // bytes of the request head (request line to empty line)
	BodyRead    int64 // request body bytes read
	RespHeadLen int   // bytes of the response head written
	Aborted     bool  // the response could not be written completely

	KeepAlive bool // the connection stays open after the response

	condCache []uint8
	caps      []capRef
	capIdx    []int
	loops     int
	log       *slog.Logger // error log of this request (per-condition server.errorlog)
	srvLog    *slog.Logger // the process's error log
	srv       *Server      // the server the request arrived at
	pathBuf   []byte       // backing store of Phys.Path
	netConn   io.Closer    // the client connection, closed by AbortStream
	slots     []any        // per-module state (Slot)
	w         ResponseWriter
	starting  *startConn // the connection whose ConnStart hooks run

	// The one-byte fields share a word: a request is kept for the whole
	// of a download (TestRequestSizeClass).
	dropped     bool
	canSuspend  bool   // the handler may wait for its backend without a goroutine (Suspend)
	suspended   bool   // it does: ServeH1 returns, ResumeH1 goes on
	failedLog   bool   // a failed login: delay the response, then close
	rawConn     bool   // a connection taken over at accept (ConnAcceptHook)
	envHooksRun bool   // RequestEnv hooks ran
	condValid   uint16 // bit per condField known (0: all, a request); see connstart.go, ResolveConn

	tlsConn *TLSConn // the TLS connection of the request (nil on a plain one)
	stats   *Stats   // the serving Server's counters

	// lastStat is the last entry Stat returned: sendFile opens the file
	// through it (statcache.OpenStat) instead of looking the path up again.
	lastStat *statcache.Entry

	closeLater []io.Closer // CloseAfterResponse
}

// ResponseWriter is what a transport (the HTTP/1.x engine, HTTP/2) gives
// the core to put a response on the wire. The core decides status and
// headers; the transport adds Connection/Date/Server and frames the body.
type ResponseWriter interface {
	// WriteHead writes the status line and headers. bodyLen is the body
	// size when known (-1: unknown, stream with chunked or close framing;
	// a HEAD response passes 0, its Content-Length header tells the size).
	// body, if not nil, is written in the same system call.
	WriteHead(status int, h *Headers, bodyLen int64, body []byte) error
	// Write streams body bytes after WriteHead.
	Write(p []byte) (int, error)
	// SendFile streams n bytes of the file fd from off with the kernel's
	// sendfile; fd stays open until the response is done.
	SendFile(fd filefd.FD, off, n int64) error
	// Flush pushes buffered bytes to the client (streamed responses).
	Flush() error
}

// Logf writes a line to the error log of the request's snapshot.
func (rc *Request) Logf(format string, args ...any) {
	l := rc.log
	if l == nil {
		l = slog.Default()
	}
	l.Error(fmt.Sprintf(format, args...))
}

// Logger is the request's error log, for a line written after the request
// ended (a CGI child reaped later); unlike the request, it may be kept.
func (rc *Request) Logger() *slog.Logger {
	if rc.log == nil {
		return slog.Default()
	}
	return rc.log
}

// InterruptBody makes a read of the request body blocked on another
// goroutine return now, and later ones fail, so a handler that gave the
// body to a copier goroutine can stop it and wait before it returns. The
// response is still written; an unread body closes the connection after it.
func (rc *Request) InterruptBody() {
	if ib, ok := rc.Body.(interface{ Interrupt() }); ok {
		ib.Interrupt()
	}
}

// FailedLogin marks a response to bad credentials (lighttpd's keep_alive =
// -1): the connection is closed after it, and unless server.feature-flags
// turns auth.delay-invalid-creds off, the response waits for the next full
// second, which slows password guessing down.
func (rc *Request) FailedLogin() {
	rc.KeepAlive = false
	rc.failedLog = true
}

// reset prepares a pooled request for reuse.
func (rc *Request) reset() {
	if bufpoison.Enabled() {
		rc.poison()
	}
	rc.Snap = nil
	rc.Conn = ConnInfo{}
	rc.Method, rc.Target = "", ""
	rc.Proto = 0
	rc.Header.Reset()
	rc.Body, rc.BodyLength = nil, 0
	rc.KeepAlive = false
	rc.RemoteUser, rc.AuthType = "", ""
	rc.URI = URI{}
	rc.Phys = Physical{}
	rc.PathInfo = ""
	rc.Env.Reset()
	rc.Conf = CoreConf{}
	rc.releaseHandler()
	rc.HandlerName = ""
	rc.Resp.reset()
	rc.ErrorStatus = 0
	rc.HeadLen, rc.BodyRead, rc.RespHeadLen, rc.Aborted = 0, 0, 0, false
	rc.netConn = nil
	rc.srv = nil
	clear(rc.slots)
	rc.slots = rc.slots[:0]
	rc.lastStat = nil
	rc.closeDeferred() // none left on the normal paths (respondH1 hands them on)
	rc.caps = rc.caps[:0]
	rc.capIdx = rc.capIdx[:0]
	rc.loops = 0
	rc.dropped = false
	rc.canSuspend, rc.suspended = false, false
	rc.failedLog = false
	rc.rawConn = false
	rc.w = nil
	rc.condValid, rc.starting, rc.envHooksRun = 0, nil, false
	rc.tlsConn = nil
}

// releaseHandler gives the request's handler back to its module
// (HandlerReleaser) and forgets it; HandlerName stays for the log.
func (rc *Request) releaseHandler() {
	if h, ok := rc.Handler.(HandlerReleaser); ok {
		h.ReleaseHandler()
	}
	rc.Handler = nil
}

// poisonString is what poisoned header slots read (bufpoison).
var poisonString = strings.Repeat(string([]byte{bufpoison.Byte}), 8)

// poison overwrites the request's reusable buffers and header slots before
// they are reused (bufpoison), so a view kept past the request is garbage.
func (rc *Request) poison() {
	bufpoison.Fill(rc.pathBuf[:cap(rc.pathBuf)])
	bufpoison.Fill(rc.Resp.clBuf[:])
	for _, h := range []*Headers{&rc.Header, &rc.Env, &rc.Resp.Header} {
		l := h.list[:cap(h.list)]
		for i := range l {
			l[i] = Header{poisonString, poisonString}
		}
	}
}
