// Package ssl is lighttpd's TLS modules (mod_openssl, mod_gnutls,
// mod_mbedtls, mod_nss, mod_wolfssl) on Go's crypto/tls: one implementation
// under every name a config may load, with lighttpd 1.4.69's ssl.* keys.
//
// Per listener (ssl.engine in the global scope or a $SERVER["socket"]
// block) it builds a crypto/tls configuration from ssl.cipher-list and
// ssl.openssl.ssl-conf-cmd; per handshake it resolves the connection-scope
// keys (certificate, client verification, ACME) through the config's
// conditions as lighttpd does with the SNI name, and answers ALPN in the
// client's order. Certificates, keys, CAs, CRLs and OCSP responses are read
// once into stores kept in the SharedPool; the config watcher swaps changed
// files in for new handshakes. Requests get SSL_* variables for backends.
package ssl

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/lighttpdconf"
)

// moduleNames are lighttpd's TLS modules; all of them are this one.
var moduleNames = []string{"mod_openssl", "mod_gnutls", "mod_mbedtls", "mod_nss", "mod_wolfssl"}

func init() {
	for _, name := range moduleNames {
		core.Register(core.ModuleInfo{Name: name, New: func() core.Module { return &Module{name: name} }})
	}
}

var (
	_ core.TLSHook             = (*Module)(nil)
	_ core.URIRawHook          = (*Module)(nil)
	_ core.RequestEnvHook      = (*Module)(nil)
	_ core.Closer              = (*Module)(nil)
	_ core.CertificateReporter = (*Module)(nil)
)

// conf is what the connection-scope keys decide for one handshake or
// request.
type conf struct {
	cert       *certStore // ssl.pemfile (with the ssl.privkey and ssl.stapling-file of its block)
	ca         *caStore   // ssl.ca-file, ssl.verifyclient.ca-file
	dn         *dnStore   // ssl.ca-dn-file, ssl.verifyclient.ca-dn-file
	verify     bool       // ssl.verifyclient.activate
	enforce    bool       // ssl.verifyclient.enforce
	depth      int        // ssl.verifyclient.depth
	username   string     // ssl.verifyclient.username
	exportCert bool       // ssl.verifyclient.exportcert
	acme       string     // ssl.acme-tls-1
}

// sockConf are the socket-scope keys.
type sockConf struct {
	engine     bool
	cipherList string
	confCmd    []core.KV
}

// Module is one loaded TLS module.
type Module struct {
	name    string
	table   *core.Table[conf]
	sockets map[string]*socket // by $SERVER["socket"] token
	stek    *stekManager
	envDone core.Slot[struct{}]

	shared   *core.SharedPool
	released []string // SharedPool keys to release on Close
	certs    []*certStore
	cas      []*caStore
	dns      []*dnStore
	stop     chan struct{}
}

// keysOf lists a module name's keys: lighttpd's mbedtls module has no OCSP
// stapling, so ssl.stapling-file is unknown there.
func keysOf(name string) map[string]bool {
	ks := map[string]bool{}
	for _, k := range []string{"ssl.pemfile", "ssl.privkey", "ssl.ca-file", "ssl.ca-dn-file", "ssl.ca-crl-file",
		"ssl.read-ahead", "ssl.disable-client-renegotiation", "ssl.verifyclient.activate",
		"ssl.verifyclient.enforce", "ssl.verifyclient.depth", "ssl.verifyclient.username",
		"ssl.verifyclient.exportcert", "ssl.acme-tls-1", "ssl.stapling-file", "ssl.verifyclient.ca-file",
		"ssl.verifyclient.ca-dn-file", "ssl.verifyclient.ca-crl-file"} {
		ks[k] = true
	}
	if name == "mod_mbedtls" {
		delete(ks, "ssl.stapling-file")
	}
	return ks
}

// blockKey identifies one key's value in one block: a Bind callback sees
// only the value, and the certificate it stands for depends on its block.
func blockKey(v lighttpdconf.Value, s string) string { return v.Pos.String() + "\x00" + s }

func strOf(b *lighttpdconf.Block, key string) string {
	if e, ok := b.Get(key); ok && e.Value.Kind == lighttpdconf.KindString {
		return strings.TrimSpace(e.Value.Str)
	}
	return ""
}

// Setup loads every certificate, CA and CRL the config names (as lighttpd
// does at start, also for -tt), binds the keys and prepares the TLS
// configuration of every TLS socket, so that a config that cannot serve
// fails here.
func (m *Module) Setup(sc *core.SetupContext) (err error) {
	m.shared = sc.Shared()
	defer func() {
		if err != nil {
			m.Close() // a failed load keeps nothing (the core closes only set-up modules)
		}
	}()
	keys := keysOf(m.name)
	logger := slog.Default()
	cfg := sc.Config()

	certAt := map[string]*certStore{}
	caAt := map[string]*caStore{}
	dnAt := map[string]*dnStore{}
	globalCRL := strOf(cfg.Global, "ssl.ca-crl-file")
	if c := strOf(cfg.Global, "ssl.verifyclient.ca-crl-file"); c != "" {
		globalCRL = c
	}
	for _, b := range cfg.Blocks {
		crl := strOf(b, "ssl.ca-crl-file")
		if c := strOf(b, "ssl.verifyclient.ca-crl-file"); c != "" {
			crl = c
		}
		hasCA := false
		for _, k := range []string{"ssl.ca-file", "ssl.verifyclient.ca-file"} {
			e, ok := b.Get(k)
			file := strOf(b, k)
			if !ok || file == "" {
				continue
			}
			hasCA = true
			f := caFiles{ca: file, crl: crl}
			if f.crl == "" {
				f.crl = globalCRL
			}
			st, err := acquire(m, f.poolKey(), func() (*caStore, error) { return loadCAStore(f) }, func(s *caStore) { s.refresh(logger) })
			if err != nil {
				return &core.ConfigError{Pos: e.Pos, Err: err}
			}
			m.cas = append(m.cas, st)
			caAt[blockKey(e.Value, file)] = st
		}
		if crl != "" && !hasCA && b.Index != 0 {
			sc.Warn(b.Pos, "ssl.verifyclient.ca-crl-file (%s) ignored unless issued with ssl.verifyclient.ca-file", crl)
		}
		for _, k := range []string{"ssl.ca-dn-file", "ssl.verifyclient.ca-dn-file"} {
			e, ok := b.Get(k)
			file := strOf(b, k)
			if !ok || file == "" {
				continue
			}
			st, err := acquire(m, "ssl.dn\x00"+file, func() (*dnStore, error) { return loadDNStore(file) }, func(s *dnStore) { s.refresh(logger) })
			if err != nil {
				return &core.ConfigError{Pos: e.Pos, Err: err}
			}
			m.dns = append(m.dns, st)
			dnAt[blockKey(e.Value, file)] = st
		}
		e, ok := b.Get("ssl.pemfile")
		pem := strOf(b, "ssl.pemfile")
		if !ok || pem == "" {
			continue
		}
		f := certFiles{pem: pem, key: pem}
		if k := strOf(b, "ssl.privkey"); k != "" {
			f.key = k
		}
		if keys["ssl.stapling-file"] {
			f.staple = strOf(b, "ssl.stapling-file")
		}
		pos := e.Pos
		st, err := acquire(m, f.poolKey(), func() (*certStore, error) {
			return loadCertStore(f, func(msg string) { sc.Warn(pos, "%s", msg) })
		}, func(s *certStore) { s.refresh(logger) })
		if err != nil {
			return &core.ConfigError{Pos: e.Pos, Err: err}
		}
		m.certs = append(m.certs, st)
		certAt[blockKey(e.Value, pem)] = st
	}

	str := func(v core.Value) string { return strings.TrimSpace(v.String()) }
	bindStore := func(name string, set func(*conf, string)) core.Key[conf] {
		return core.Key[conf]{Name: name, Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			s := str(v)
			if s == "" {
				return nil, nil
			}
			k := blockKey(v.Raw, s)
			return func(c *conf) { set(c, k) }, nil
		}}
	}
	consumed := func(name string, t core.Type) core.Key[conf] {
		return core.Key[conf]{Name: name, Type: t, Bind: func(core.Value) (func(*conf), error) { return nil, nil }}
	}
	var depthWarn []string
	connKeys := []core.Key[conf]{
		bindStore("ssl.pemfile", func(c *conf, k string) { c.cert = certAt[k] }),
		bindStore("ssl.ca-file", func(c *conf, k string) { c.ca = caAt[k] }),
		bindStore("ssl.verifyclient.ca-file", func(c *conf, k string) { c.ca = caAt[k] }),
		bindStore("ssl.ca-dn-file", func(c *conf, k string) { c.dn = dnAt[k] }),
		bindStore("ssl.verifyclient.ca-dn-file", func(c *conf, k string) { c.dn = dnAt[k] }),
		consumed("ssl.privkey", core.TypeString),
		consumed("ssl.ca-crl-file", core.TypeString),
		consumed("ssl.verifyclient.ca-crl-file", core.TypeString),
		consumed("ssl.read-ahead", core.TypeBool),
		consumed("ssl.disable-client-renegotiation", core.TypeBool),
		{Name: "ssl.verifyclient.activate", Type: core.TypeBool, Bind: boolKey(func(c *conf, b bool) { c.verify = b })},
		{Name: "ssl.verifyclient.enforce", Type: core.TypeBool, Bind: boolKey(func(c *conf, b bool) { c.enforce = b })},
		{Name: "ssl.verifyclient.exportcert", Type: core.TypeBool, Bind: boolKey(func(c *conf, b bool) { c.exportCert = b })},
		{Name: "ssl.verifyclient.depth", Type: core.TypeShort, Bind: func(v core.Value) (func(*conf), error) {
			d, msg := depthValue(v.Int())
			if msg != "" {
				depthWarn = append(depthWarn, msg)
			}
			return func(c *conf) { c.depth = d }, nil
		}},
		{Name: "ssl.verifyclient.username", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			s := str(v)
			return func(c *conf) { c.username = s }, nil
		}},
		{Name: "ssl.acme-tls-1", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			s := str(v)
			return func(c *conf) { c.acme = s }, nil
		}},
	}
	if keys["ssl.stapling-file"] {
		connKeys = append(connKeys, consumed("ssl.stapling-file", core.TypeString))
	}
	if m.table, err = core.Bind(sc, conf{enforce: true, depth: 9}, connKeys); err != nil {
		return err
	}
	for _, w := range depthWarn {
		sc.Warn(lighttpdconf.Pos{}, "%s", w)
	}

	sockKeys := []core.Key[sockConf]{
		{Name: "ssl.engine", Type: core.TypeBool, Scope: core.ScopeSocket, Bind: func(v core.Value) (func(*sockConf), error) {
			b := v.Bool()
			return func(s *sockConf) { s.engine = b }, nil
		}},
		{Name: "ssl.cipher-list", Type: core.TypeString, Scope: core.ScopeSocket, Bind: func(v core.Value) (func(*sockConf), error) {
			s := str(v)
			if s == "" {
				return nil, nil
			}
			sc.Warn(v.Pos, "ssl.cipher-list is deprecated.  Please prefer lighttpd secure TLS defaults, or use ssl.openssl.ssl-conf-cmd \"CipherString\" to set custom cipher list.")
			return func(c *sockConf) { c.cipherList = s }, nil
		}},
		{Name: "ssl.openssl.ssl-conf-cmd", Type: core.TypeKV, Scope: core.ScopeSocket, Bind: func(v core.Value) (func(*sockConf), error) {
			kv := v.KVs()
			return func(c *sockConf) { c.confCmd = kv }, nil
		}},
	}
	socks, err := core.Bind(sc, sockConf{}, sockKeys)
	if err != nil {
		return err
	}
	stekFile := ""
	stekKeys := []core.Key[string]{{Name: "ssl.stek-file", Type: core.TypeString, Scope: core.ScopeGlobal,
		Bind: func(v core.Value) (func(*string), error) {
			s := str(v)
			return func(f *string) { *f = s }, nil
		}}}
	st, err := core.Bind(sc, "", stekKeys)
	if err != nil {
		return err
	}
	stekFile = st.Defaults()

	if err := m.setupSockets(sc, socks); err != nil {
		return err
	}
	if len(m.sockets) > 0 && !sc.Preflight() {
		m.stek, err = acquire(m, "ssl.stek\x00"+stekFile, func() (*stekManager, error) { return newStekManager(stekFile), nil }, nil)
		if err != nil {
			return err
		}
		for _, s := range m.sockets {
			s.useTickets(m.stek)
		}
	}
	m.envDone = core.NewSlot[struct{}](sc)
	if !sc.Preflight() {
		m.watch(sc)
	}
	return nil
}

func boolKey(set func(*conf, bool)) func(core.Value) (func(*conf), error) {
	return func(v core.Value) (func(*conf), error) {
		b := v.Bool()
		return func(c *conf) { set(c, b) }, nil
	}
}

// acquire takes a store from the SharedPool (loading it the first time);
// a store kept from the previous config is refreshed, so a forced reload
// (SIGUSR1) picks up changed files as lighttpd's graceful restart does.
func acquire[T any](m *Module, key string, open func() (T, error), refresh func(T)) (T, error) {
	fresh := false
	v, err := core.Acquire(m.shared, key, func() (T, func(), error) {
		v, err := open()
		if err != nil {
			return v, nil, err
		}
		fresh = true
		var stop func()
		if s, ok := any(v).(*stekManager); ok {
			stop = s.close
		}
		return v, stop, nil
	})
	if err != nil {
		return v, err
	}
	m.released = append(m.released, key)
	if !fresh && refresh != nil {
		refresh(v)
	}
	return v, nil
}

// watch registers every file the stores read with the config watcher and
// starts lighttpd's 64-second check of OCSP responses.
func (m *Module) watch(sc *core.SetupContext) {
	var paths []string
	for _, s := range m.certs {
		paths = append(paths, s.files.paths()...)
	}
	for _, s := range m.cas {
		paths = append(paths, s.files.paths()...)
	}
	for _, s := range m.dns {
		paths = append(paths, s.file)
	}
	if m.stek != nil && m.stek.file != "" {
		paths = append(paths, m.stek.file)
	}
	if len(paths) == 0 {
		return
	}
	sc.WatchFiles(func() {
		l := slog.Default()
		for _, s := range m.certs {
			s.refresh(l)
		}
		for _, s := range m.cas {
			s.refresh(l)
		}
		for _, s := range m.dns {
			s.refresh(l)
		}
		if m.stek != nil {
			m.stek.check(time.Now())
		}
	}, paths...)
	m.stop = make(chan struct{})
	go func() {
		t := time.NewTicker(stekCheck)
		defer t.Stop()
		for {
			select {
			case <-m.stop:
				return
			case <-t.C:
				for _, s := range m.certs {
					s.mu.Lock()
					s.refreshStaple(s.cur.Load(), slog.Default())
					s.mu.Unlock()
				}
			}
		}
	}()
}

// Certificates reports the file and expiry of every certificate served now
// (reloaded files included), for mod_status's metrics page.
func (m *Module) Certificates(visit func(file string, notAfter time.Time)) {
	for _, s := range m.certs {
		if st := s.cur.Load(); st != nil && st.cert != nil && st.cert.Leaf != nil {
			visit(s.files.pem, st.cert.Leaf.NotAfter)
		}
	}
}

// Close releases the shared stores.
func (m *Module) Close() error {
	if m.stop != nil {
		close(m.stop)
	}
	for _, k := range m.released {
		m.shared.Release(k)
	}
	m.released = nil
	return nil
}

// socketBlock finds the $SERVER["socket"] == token block directly below the
// global scope.
func socketBlock(cfg *lighttpdconf.Config, token string) *lighttpdconf.Block {
	for _, b := range cfg.Blocks {
		c := b.Cond
		if c != nil && c.Var == "SERVER" && c.Op == lighttpdconf.OpEq && strings.EqualFold(c.Field, "socket") && c.Value == token && b.Parent != nil && b.Parent.Index == 0 {
			return b
		}
	}
	return nil
}

// setupSockets prepares every TLS listener, with lighttpd's rules on where
// ssl.pemfile must be.
func (m *Module) setupSockets(sc *core.SetupContext, socks *core.Table[sockConf]) error {
	snap := sc.Snapshot()
	specs, err := snap.ListenSpecs()
	if err != nil {
		return err
	}
	cfg := sc.Config()
	globalEngine := socks.Defaults().engine
	m.sockets = map[string]*socket{}
	for _, sp := range specs {
		if !sp.TLS {
			continue
		}
		b := socketBlock(cfg, sp.Token)
		pos := cfg.Global.Pos
		if b != nil {
			pos = b.Pos
		}
		if b != nil && strOf(b, "ssl.pemfile") == "" {
			other := false
			for _, e := range b.Entries {
				lk := strings.ToLower(e.Key)
				if strings.HasPrefix(lk, "ssl.") && lk != "ssl.engine" || lk == "debug.log-ssl-noise" {
					other = true
				}
			}
			if other || !globalEngine || strOf(cfg.Global, "ssl.pemfile") == "" {
				return &core.ConfigError{Pos: b.Pos, Err: fmt.Errorf("ssl.pemfile has to be set in same $SERVER[\"socket\"] scope as other ssl.* directives, unless only ssl.engine is set, inheriting ssl.* from global scope")}
			}
		} else if b == nil && strOf(cfg.Global, "ssl.pemfile") == "" {
			return &core.ConfigError{Pos: pos, Err: fmt.Errorf("ssl.pemfile has to be set when ssl.engine = \"enable\"")}
		}
		facts := core.ConnFacts{Socket: sp.Token}
		s := core.ResolveConn(snap, socks, facts)
		p := defaultParams()
		if s.cipherList != "" {
			if err := p.cipherList(s.cipherList); err != nil {
				return &core.ConfigError{Pos: pos, Err: err}
			}
		}
		if len(s.confCmd) > 0 {
			if err := p.confCmd(s.confCmd); err != nil {
				return &core.ConfigError{Pos: pos, Err: err}
			}
		}
		if err := p.finish(); err != nil {
			return &core.ConfigError{Pos: pos, Err: err}
		}
		for _, w := range p.warnings {
			sc.Warn(pos, "%s", w)
		}
		m.sockets[sp.Token] = newSocket(m, snap, sp.Token, &p)
	}
	return nil
}

// ListenerTLS implements core.TLSHook.
func (m *Module) ListenerTLS(_ *core.Snapshot, sp core.ListenSpec) (*tls.Config, error) {
	s := m.sockets[sp.Token]
	if s == nil {
		return nil, fmt.Errorf("SSL: no TLS configuration for socket %s", sp.Token)
	}
	return s.base, nil
}

// socket is the TLS side of one listener for one snapshot.
type socket struct {
	m     *Module
	snap  *core.Snapshot
	token string
	base  *tls.Config

	variants  sync.Map // variantKey -> *tls.Config
	nvariants atomic.Int32
	noALPN    *tls.Config // no protocol in common: crypto/tls sends no_application_protocol
}

// maxVariants bounds the per-socket cache of handshake configurations
// (one per certificate, client-verification setting and ALPN protocol in
// use); past it the cache starts over.
const maxVariants = 4096

func newSocket(m *Module, snap *core.Snapshot, token string, p *params) *socket {
	s := &socket{m: m, snap: snap, token: token}
	s.base = &tls.Config{
		MinVersion:             p.minVer,
		MaxVersion:             p.maxVer,
		CipherSuites:           p.suites,
		CurvePreferences:       p.curves,
		SessionTicketsDisabled: p.noTickets,
		GetConfigForClient:     s.forClient,
	}
	if s.base.CipherSuites == nil {
		s.base.CipherSuites = []uint16{}
	}
	s.noALPN = s.base.Clone()
	s.noALPN.GetConfigForClient = nil
	s.noALPN.NextProtos = snap.ALPNProtocols()
	return s
}

func (s *socket) useTickets(m *stekManager) {
	if s.base.SessionTicketsDisabled {
		return
	}
	for _, c := range []*tls.Config{s.base, s.noALPN} {
		c.WrapSession, c.UnwrapSession = m.wrap, m.unwrap
	}
}

// variantKey is what makes two handshakes' configurations differ.
type variantKey struct {
	cert    *certStore
	ca      *caState
	dn      *dnState
	verify  bool
	enforce bool
	proto   string
}

// forClient is the handshake's GetConfigForClient: lighttpd's client-hello
// callback (SNI patches the connection-scope config), certificate callback
// and ALPN selection in one.
func (s *socket) forClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	sni := strings.ToLower(hello.ServerName)
	c := core.ResolveConn(s.snap, s.m.table, core.ConnFacts{Socket: s.token, RemoteIP: remoteIP(hello.Conn), SNI: sni})
	proto := ""
	if len(hello.SupportedProtos) > 0 {
		served := s.snap.ALPNProtocols()
		found := false
		for _, p := range hello.SupportedProtos {
			if p == core.ALPNAcme {
				if c.acme == "" {
					continue // not configured: as if not offered
				}
				return s.acmeConfig(c.acme, sni)
			}
			if contains(served, p) {
				proto, found = p, true
				break
			}
		}
		if !found {
			return s.noALPN, nil
		}
	}
	if c.cert == nil {
		return nil, fmt.Errorf("SSL: no certificate/private key for TLS server name \"%s\".  $SERVER[\"socket\"] should not be nested in other conditions.", sni)
	}
	key := variantKey{cert: c.cert, proto: proto, verify: c.verify, enforce: c.enforce}
	if c.verify {
		if c.ca == nil {
			return nil, fmt.Errorf("SSL: can't verify client without ssl.verifyclient.ca-file for TLS server name %s", sni)
		}
		key.ca = c.ca.cur.Load()
		if c.dn != nil {
			key.dn = c.dn.cur.Load()
		}
	}
	cfg := s.variant(key)
	if !c.verify {
		return cfg, nil
	}
	// The verdict belongs to this connection: a per-connection copy
	// records it for the requests (SSL_CLIENT_VERIFY and friends).
	cc := cfg.Clone()
	params := verifyParams{ca: key.ca, dn: key.dn, depth: c.depth}
	conn, enforce := hello.Conn, c.enforce
	cc.VerifyConnection = func(cs tls.ConnectionState) error {
		v := &verdict{}
		if len(cs.PeerCertificates) > 0 {
			v.leaf = cs.PeerCertificates[0]
			v.err = verifyClient(params, cs.PeerCertificates, time.Now())
		}
		core.SetTLSData(conn, v)
		if v.err != nil {
			if enforce {
				return fmt.Errorf("SSL: %v", v.err)
			}
			slog.Default().Error(fmt.Sprintf("SSL: %v", v.err))
			if v.err.code == errUnableToGetIssuerLocl {
				slog.Default().Error(fmt.Sprintf("SSL: issuer=%s", oneline(v.err.cert.RawIssuer)))
			}
		}
		return nil
	}
	return cc, nil
}

func (s *socket) variant(k variantKey) *tls.Config {
	if v, ok := s.variants.Load(k); ok {
		return v.(*tls.Config)
	}
	cfg := s.base.Clone()
	cfg.GetConfigForClient = nil
	store := k.cert
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return store.get(), nil }
	if k.proto != "" {
		cfg.NextProtos = []string{k.proto}
	}
	if k.verify {
		cfg.ClientAuth = tls.RequestClientCert
		if k.enforce {
			cfg.ClientAuth = tls.RequireAnyClientCert
		}
		cfg.ClientCAs = k.ca.names
		if k.dn != nil {
			cfg.ClientCAs = k.dn.names
		}
	}
	if s.nvariants.Add(1) > maxVariants {
		s.variants.Clear()
		s.nvariants.Store(1)
	}
	v, _ := s.variants.LoadOrStore(k, cfg)
	return v.(*tls.Config)
}

// acmeConfig answers an ACME tls-alpn-01 challenge with the certificate
// <ssl.acme-tls-1>/<SNI>.crt.pem and its key <SNI>.key.pem, read for each
// challenge; the connection ends after the handshake.
func (s *socket) acmeConfig(dir, sni string) (*tls.Config, error) {
	if sni == "" || strings.ContainsRune(sni, '/') || sni[0] == '.' {
		return nil, fmt.Errorf("SSL: acme-tls/1 without a usable server name %q", sni)
	}
	base := filepath.Join(dir, sni)
	st, err := loadCert(certFiles{pem: base + ".crt.pem", key: base + ".key.pem"}, func(string) {})
	if err != nil {
		slog.Default().Error(fmt.Sprintf("SSL: Failed to load acme-tls/1 pemfile: %s: %v", base, err))
		return nil, err
	}
	cfg := s.base.Clone()
	cfg.GetConfigForClient = nil
	cfg.Certificates = []tls.Certificate{*st.cert}
	cfg.NextProtos = []string{core.ALPNAcme}
	cfg.SessionTicketsDisabled = true
	return cfg, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func remoteIP(c net.Conn) string {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap().String()
	}
	return ""
}

// URIRaw adds the client-certificate variables early (lighttpd's
// handle_uri_raw) when the request's ssl.verifyclient.activate is on, so
// REMOTE_USER from ssl.verifyclient.username is there for later modules.
func (m *Module) URIRaw(rc *core.Request) core.Result {
	if tc := rc.TLS(); tc != nil {
		if c := m.table.Resolve(rc); c.verify {
			m.addEnv(rc, tc, &c)
		}
	}
	return core.GoOn
}

// RequestEnv adds SSL_PROTOCOL, SSL_CIPHER and friends (and the client
// variables) before a backend's environment is built.
func (m *Module) RequestEnv(rc *core.Request) {
	if tc := rc.TLS(); tc != nil {
		c := m.table.Resolve(rc)
		m.addEnv(rc, tc, &c)
	}
}

var envDone struct{}

// bitsText avoids formatting the common key sizes per request.
var bitsText = map[int]string{128: "128", 256: "256"}

func itoa(n int) string {
	if s, ok := bitsText[n]; ok {
		return s
	}
	return strconv.Itoa(n)
}

func (m *Module) addEnv(rc *core.Request, tc *core.TLSConn, c *conf) {
	if m.envDone.Get(rc) != nil {
		return
	}
	m.envDone.Set(rc, &envDone)
	st := tc.State()
	rc.Env.Set("SSL_PROTOCOL", versionName(st.Version))
	name, use, alg := cipherEnv(st.CipherSuite)
	rc.Env.Set("SSL_CIPHER", name)
	rc.Env.Set("SSL_CIPHER_USEKEYSIZE", itoa(use))
	rc.Env.Set("SSL_CIPHER_ALGKEYSIZE", itoa(alg))
	if !c.verify {
		return
	}
	v, _ := tc.Data().(*verdict)
	if v == nil {
		v = &verdict{}
	}
	rc.Env.Set("SSL_CLIENT_VERIFY", v.status())
	if v.err != nil || v.leaf == nil {
		return
	}
	v.fill()
	rc.Env.Set("SSL_CLIENT_S_DN", v.dn)
	for _, e := range v.entries {
		rc.Env.Set(e.name, e.value)
	}
	rc.Env.Set("SSL_CLIENT_M_SERIAL", v.serial)
	if c.username != "" {
		if user := rc.Env.Get(c.username); user != "" {
			rc.Env.Set("REMOTE_USER", user)
			rc.Env.Set("AUTH_TYPE", "SSL_CLIENT_VERIFY")
		}
	}
	if c.exportCert {
		rc.Env.Set("SSL_CLIENT_CERT", v.pem)
	}
}

// InlineHooks marks the module for HTTP/2 requests on the reader
// (core.InlineHooks): its per-request hooks only fill variables.
func (*Module) InlineHooks() {}
