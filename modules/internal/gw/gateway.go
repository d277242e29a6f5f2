package gw

import (
	"errors"
	"github.com/golighty/golighty/core/rawpoll"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/golighty/golighty/core"
)

// Server is one parsed xxx.server value: the extensions and prefixes of
// authorizers and of responders, each in config order.
type Server struct {
	Auth []*Ext
	Resp []*Ext

	// ends has a bit for the last byte of every suffix key, so that Match
	// turns away a path that cannot end in any of them at one look: a
	// static request beside PHP is checked twice (its URL path and its
	// physical path), and the search was 1.5% of a 1 KiB request's CPU.
	// anyKey: a prefix key or an empty key, which that look cannot rule
	// out.
	ends   [4]uint64
	anyKey bool
}

func (s *Server) insert(key string, h *Host, mode Mode) {
	if key == "" || strings.HasPrefix(key, "/") {
		s.anyKey = true
	} else {
		b := key[len(key)-1]
		s.ends[b>>6] |= 1 << (b & 63)
	}
	list := &s.Resp
	if mode == Authorizer {
		list = &s.Auth
	}
	for _, e := range *list {
		if e.Key == key {
			e.Hosts = append(e.Hosts, h)
			return
		}
	}
	e := &Ext{Key: key, Hosts: []*Host{h}, Mode: mode}
	e.lastUsed.Store(-1)
	*list = append(*list, e)
}

// Ext is an extension (".php") or URL-path prefix ("/app") and the hosts
// serving it.
type Ext struct {
	Key   string
	Mode  Mode
	Hosts []*Host

	lastUsed atomic.Int32 // round-robin position
	noteSent atomic.Bool  // "all handlers ... are down" logged
}

// IsPrefix reports whether the key is a URL-path prefix.
func (e *Ext) IsPrefix() bool { return strings.HasPrefix(e.Key, "/") }

// Match is gw_check_extension's search: authorizers first (unless one
// already ran for the request), then responders. fn is the path suffix keys
// are matched against (the physical path, or the URL path when
// check-local is disabled); prefix keys always match the URL path.
// fastcgi.map-extensions is consulted before the direct keys.
func (s *Server) Match(mapExt []core.KV, fn, uriPath string, skipAuth bool) *Ext {
	if fn == "" {
		return nil
	}
	if b := fn[len(fn)-1]; len(mapExt) == 0 && !s.anyKey && s.ends[b>>6]&(1<<(b&63)) == 0 {
		return nil
	}
	lists := [2][]*Ext{s.Auth, s.Resp}
	if skipAuth {
		lists[0] = nil
	}
	for _, exts := range lists {
		if len(exts) == 0 {
			continue
		}
		if e := mapped(exts, mapExt, fn); e != nil {
			return e
		}
		for _, e := range exts {
			if e.IsPrefix() {
				if strings.HasPrefix(uriPath, e.Key) {
					return e
				}
			} else if strings.HasSuffix(fn, e.Key) {
				return e
			}
		}
	}
	return nil
}

// mapped applies xxx.map-extensions: the first mapping whose key ends fn
// names the extension to use, if that extension exists in exts.
func mapped(exts []*Ext, mapExt []core.KV, fn string) *Ext {
	for _, kv := range mapExt {
		if !strings.HasSuffix(fn, kv.Key) {
			continue
		}
		for _, e := range exts {
			if e.Key == kv.Value {
				return e
			}
		}
		return nil
	}
	return nil
}

// SplitPathInfo is the check-local=disable split for a prefix key: the URL
// path continues after the key up to the next '/', the rest is PATH_INFO
// (key "/cgi-bin/", "/cgi-bin/foo/bar" → "/cgi-bin/foo" + "/bar"). With
// fix-root-scriptname and key "/", the whole path is PATH_INFO.
func SplitPathInfo(key, uriPath string, fixRoot bool) (scriptName, pathInfo string) {
	if len(key) == 1 && fixRoot {
		return "", uriPath
	}
	if len(uriPath) > len(key) {
		if i := strings.IndexByte(uriPath[len(key):], '/'); i >= 0 {
			cut := len(key) + i
			return uriPath[:cut], uriPath[cut:]
		}
	}
	return uriPath, ""
}

// SelectInfo is what balancing needs to know about a request.
type SelectInfo struct {
	Authority string // hash balancing
	Path      string
	Query     string
	RemoteIP  string // sticky balancing
	Debug     int
	Log       Logger // nil: no logging
}

// Logger takes the request's log lines (a *core.Request: an interface
// holding it costs no allocation, where the method value rc.Logf did).
type Logger interface {
	Logf(format string, args ...any)
}

// logf logs through si.Log, if there is one.
func (si *SelectInfo) logf(format string, args ...any) {
	if si.Log != nil {
		si.Log.Logf(format, args...)
	}
}

const djbInit = 5381

func djb(s string, h uint32) uint32 {
	for i := 0; i < len(s); i++ {
		h = (h << 5) + h ^ uint32(s[i])
	}
	return h
}

// Select is gw_host_get: a host with a usable proc chosen by the balance
// policy, or nil after logging (once until a host is found again) that all
// handlers are down; the caller answers 503.
func (e *Ext) Select(b Balance, si *SelectInfo) *Host {
	ndx := -1
	switch {
	case len(e.Hosts) == 1:
		if e.Hosts[0].active(si.logf) {
			ndx = 0
		}
	case b == Hash, b == Sticky:
		var base uint32
		if b == Hash {
			base = djb(si.Authority, djb(si.Path, djbInit))
		} else {
			base = djb(si.RemoteIP, djbInit)
		}
		var best uint32
		for k, h := range e.Hosts {
			if !h.active(si.logf) {
				continue
			}
			cur := base ^ h.hash
			if b == Sticky {
				cur ^= uint32(h.Conf.Port)
			}
			if ndx < 0 || cur > best {
				best, ndx = cur, k
			}
		}
	case b == RoundRobin:
		last := int(e.lastUsed.Load())
		n := len(e.Hosts)
		for i := 1; i <= n; i++ {
			k := (last + i) % n
			if k < 0 {
				k += n
			}
			if e.Hosts[k].active(si.logf) {
				ndx = k
				break
			}
		}
		e.lastUsed.Store(int32(ndx))
	default:
		least := int32(-1)
		for k, h := range e.Hosts {
			if !h.active(si.logf) {
				continue
			}
			if l := h.load.Load(); least < 0 || l < least {
				least, ndx = l, k
			}
		}
	}
	if ndx < 0 {
		if e.noteSent.CompareAndSwap(false, true) && si.Log != nil {
			si.logf("all handlers for %s?%s on %s are down.", si.Path, si.Query, e.Key)
		}
		return nil
	}
	e.noteSent.Store(false)
	h := e.Hosts[ndx]
	if si.Debug > 0 && si.Log != nil {
		si.logf("gw - found a host %s %d", h.Conf.Host, h.Conf.Port)
	}
	return h
}

// Host is one backend: its procs and their load.
type Host struct {
	Conf    HostConfig
	Procs   []*Proc
	Spawner *Spawner // nil unless bin-path

	load atomic.Int32
	hash uint32
}

// NewHost builds the runtime host of hc; sp starts its processes when hc
// has a bin-path.
func NewHost(hc HostConfig, sp *Spawner) *Host {
	h := &Host{Conf: hc, Spawner: sp}
	id := hc.Host
	if id == "" {
		id = hc.Socket
	}
	h.hash = djb(id, djbInit)
	for i, a := range hc.addrs() {
		h.Procs = append(h.Procs, &Proc{Addr: a, Name: a.String(), Index: i, host: h})
	}
	return h
}

// Load is the number of requests running on the host.
func (h *Host) Load() int { return int(h.load.Load()) }

func (h *Host) active(logf func(string, ...any)) bool {
	for _, p := range h.Procs {
		if p.usable(logf) {
			return true
		}
	}
	return false
}

// Acquire picks the usable proc with the lowest load and counts the
// request on it; nil when every proc is down. Release undoes it.
func (h *Host) Acquire(si *SelectInfo) *Proc {
	var best *Proc
	for _, p := range h.Procs {
		if !p.usable(si.logf) {
			continue
		}
		if best == nil || p.load.Load() < best.load.Load() {
			best = p
		}
	}
	if best == nil {
		return nil
	}
	best.load.Add(1)
	h.load.Add(1)
	if si.Debug > 0 && si.Log != nil {
		si.logf("got proc: pid: %d socket: %s load: %d", best.PID(), best.Addr, best.load.Load())
	}
	return best
}

// Release ends a request started with Acquire.
func (h *Host) Release(p *Proc, si *SelectInfo) {
	p.load.Add(-1)
	h.load.Add(-1)
	if si.Debug > 0 && si.Log != nil {
		si.logf("released proc: pid: %d socket: %s load: %d", p.PID(), p.Addr, p.load.Load())
	}
}

// Proc is one address of a host (one spawned process for bin-path hosts).
type Proc struct {
	Addr  Addr
	Name  string // Addr.String(), made once: the peer of every request's log lines
	Index int
	// Client is the protocol module's connection factory for this address
	// (an *fcgi.Dialer for mod_fastcgi), set once at setup.
	Client any

	host          *Host
	load          atomic.Int32
	disabledUntil atomic.Int64 // unix nanoseconds; 0 = enabled

	// Counters of lighttpd's gw.backend.* statistics (atomic, read by
	// mod_status and its Prometheus form).
	connected  atomic.Uint64 // connections made
	died       atomic.Uint64 // connects refused, timed out, socket missing
	overloaded atomic.Uint64 // connects refused with EAGAIN
	pool       *ConnPool     // kept connections (keep-conn), see Pool
	poolOnce   sync.Once
	target     atomic.Pointer[rawpoll.Target] // Addr resolved by the first Dial
}

// Connected counts a connection made to the proc (".connected").
func (p *Proc) Connected() { p.connected.Add(1) }

// PID is the spawned process id (0 for external backends, as lighttpd logs).
func (p *Proc) PID() int {
	if p.host.Spawner == nil {
		return 0
	}
	return p.host.Spawner.PID(p.Index)
}

// usable: not disabled after a connect failure and, when spawned, running.
// A proc whose disable time passed is re-enabled here, with lighttpd's log
// line. The clock is read only for a disabled proc: a PHP request asks
// three times (two host selections and the proc's), and three readings of
// the wall clock were 2% of its user time.
func (p *Proc) usable(logf func(string, ...any)) bool {
	if until := p.disabledUntil.Load(); until != 0 {
		if time.Now().UnixNano() <= until {
			return false
		}
		if p.disabledUntil.CompareAndSwap(until, 0) && logf != nil {
			hc := &p.host.Conf
			logf("gw-server re-enabled: %s %s %d %s", p.Addr, hc.Host, hc.Port, hc.Socket)
		}
	}
	if sp := p.host.Spawner; sp != nil && !sp.Up(p.Index) {
		return false
	}
	return true
}

// Disable takes the proc out of balancing for the host's disable-time
// (a bin-path group that could not be started).
func (p *Proc) Disable() {
	d := time.Duration(p.host.Conf.DisableTime) * time.Second
	p.disabledUntil.Store(time.Now().Add(d).UnixNano())
}

// ConnectFailed disables the proc for disable-time after a connect error
// (lighttpd treats refused and timed-out connects as overload) and logs as
// gw_proc_connect_error does.
func (p *Proc) ConnectFailed(err error, logf func(string, ...any)) {
	hc := &p.host.Conf
	p.Disable()
	if errors.Is(err, syscall.EAGAIN) {
		p.overloaded.Add(1)
	} else {
		p.died.Add(1)
	}
	if logf != nil {
		logf("establishing connection failed: socket: %s: %v", p.Addr, err)
		if p.host.Spawner != nil {
			logf("backend error; we'll disable for %dsecs and send the request to another backend instead:load: %d", hc.DisableTime, p.host.Load())
		}
	}
}

// PluginStats adds the server's lighttpd statistics for status.statistics-url:
// per host gw.backend.<label>.load, per proc
// gw.backend.<label>.<proc>.{connected,died,disabled,load,overloaded}
// (".disabled" stays 0, as lighttpd never counts it), and the requests
// running on its backends as gw.active-requests.
func (s *Server) PluginStats(add func(key string, value int64)) {
	var active int64
	s.eachHost(func(_ *Ext, h *Host) {
		prefix := "gw.backend." + h.Conf.Label
		add(prefix+".load", int64(h.load.Load()))
		for _, p := range h.Procs {
			pp := prefix + "." + strconv.Itoa(p.Index)
			load := int64(p.load.Load())
			active += load
			add(pp+".connected", int64(p.connected.Load()))
			add(pp+".died", int64(p.died.Load()))
			add(pp+".disabled", 0)
			add(pp+".load", load)
			add(pp+".overloaded", int64(p.overloaded.Load()))
		}
	})
	add("gw.active-requests", active)
}

// Backends lists every proc of the server with its counters for the
// metrics page.
func (s *Server) Backends(module string, visit func(core.BackendStat)) {
	now := time.Now().UnixNano()
	s.eachHost(func(e *Ext, h *Host) {
		for _, p := range h.Procs {
			until := p.disabledUntil.Load()
			visit(core.BackendStat{
				Module: module, Ext: e.Key, Host: h.Conf.Label, Proc: p.Index, Addr: p.Addr.Address,
				Load: int64(p.load.Load()), Connected: p.connected.Load(), Died: p.died.Load(),
				Overload: p.overloaded.Load(), Disabled: until != 0 && now <= until,
			})
		}
	})
}

func (s *Server) eachHost(f func(*Ext, *Host)) {
	if s == nil {
		return
	}
	for _, list := range [2][]*Ext{s.Auth, s.Resp} {
		for _, e := range list {
			for _, h := range e.Hosts {
				f(e, h)
			}
		}
	}
}
