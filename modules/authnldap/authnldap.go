// Package authnldap is lighttpd's mod_authn_ldap: the "ldap" backend of
// mod_auth (Basic only). A login finds the user's DN with a search (the
// auth.backend.ldap.filter with '?' or '$' replaced by the escaped user
// name) on a kept connection bound as auth.backend.ldap.bind-dn, or builds
// it directly from a filter starting with ','; then binds as that DN with
// the password on a new connection. group= rules search below each group's
// DN for an entry whose auth.backend.ldap.groupmember (memberUid, or member
// holding the user's DN) names the user.
//
// The user name is escaped for filters (RFC 4515) and DNs (RFC 4514) as
// lighttpd escapes it, so "*", "(", ")" and "\" cannot change a filter.
package authnldap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/modules/auth"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_authn_ldap", New: func() core.Module { return &Module{} }})
}

type conf struct {
	host         *hostConf // the block that set auth.backend.ldap.hostname
	baseDN       string
	filter       string // '$' already turned into '?'
	groupMember  string
	allowEmptyPW bool
	starttls     bool
	bindDN       string
	bindPW       string
	caFile       string
}

// hostConf is lighttpd's plugin_config_ldap: the servers and the bind,
// TLS and timeout settings written in the same block as the hostname, and
// the kept search connection.
type hostConf struct {
	urls     []string
	bindDN   string
	bindPW   string
	caFile   string
	starttls bool
	timeout  time.Duration

	mu   sync.Mutex
	conn *ldap.Conn
}

// Module is one loaded mod_authn_ldap.
type Module struct {
	table *core.Table[conf]
	hosts []*hostConf
}

var (
	_ core.Module          = (*Module)(nil)
	_ core.Closer          = (*Module)(nil)
	_ auth.BackendProvider = (*Module)(nil)
	_ auth.Backend         = backend{}
)

// Setup binds the auth.backend.ldap.* keys.
func (m *Module) Setup(sc *core.SetupContext) error {
	str := func(set func(*conf, string)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			s := v.String()
			return func(c *conf) { set(c, s) }, nil
		}
	}
	boolean := func(set func(*conf, bool)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			b := v.Bool()
			return func(c *conf) { set(c, b) }, nil
		}
	}
	var err error
	m.table, err = core.Bind(sc, conf{groupMember: "memberUid"}, []core.Key[conf]{
		{Name: "auth.backend.ldap.hostname", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			var h *hostConf
			if v.String() != "" {
				h = &hostConf{urls: hostURLs(v.String())}
				m.hosts = append(m.hosts, h)
			}
			return func(c *conf) { c.host = h }, nil
		}},
		{Name: "auth.backend.ldap.base-dn", Type: core.TypeString, Bind: str(func(c *conf, s string) { c.baseDN = s })},
		{Name: "auth.backend.ldap.filter", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			f := v.String()
			if f != "" && f[0] != ',' {
				f = strings.ReplaceAll(f, "$", "?")
				if !strings.Contains(f, "?") {
					return nil, errors.New("ldap: auth.backend.ldap.filter is missing a replace-operator '?'")
				}
			}
			return func(c *conf) { c.filter = f }, nil
		}},
		{Name: "auth.backend.ldap.ca-file", Type: core.TypeString, Bind: str(func(c *conf, s string) { c.caFile = s })},
		{Name: "auth.backend.ldap.starttls", Type: core.TypeBool, Bind: boolean(func(c *conf, b bool) { c.starttls = b })},
		{Name: "auth.backend.ldap.bind-dn", Type: core.TypeString, Bind: str(func(c *conf, s string) { c.bindDN = s })},
		{Name: "auth.backend.ldap.bind-pw", Type: core.TypeString, Bind: str(func(c *conf, s string) { c.bindPW = s })},
		{Name: "auth.backend.ldap.allow-empty-pw", Type: core.TypeBool, Bind: boolean(func(c *conf, b bool) { c.allowEmptyPW = b })},
		{Name: "auth.backend.ldap.groupmember", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			s := v.String()
			if s == "" {
				return nil, nil
			}
			return func(c *conf) { c.groupMember = s }, nil
		}},
		{Name: "auth.backend.ldap.timeout", Type: core.TypeString, Bind: func(core.Value) (func(*conf), error) { return nil, nil }},
	})
	if err != nil {
		return err
	}
	// The bind, TLS and timeout settings of a hostname are those written in
	// its own block (lighttpd's historical behaviour).
	// Bind made one hostConf per non-blank hostname, in block order.
	next := 0
	for _, b := range sc.Config().Blocks {
		e, ok := b.Get("auth.backend.ldap.hostname")
		if !ok || e.Value.Str == "" || next >= len(m.hosts) {
			continue
		}
		h := m.hosts[next]
		next++
		h.timeout = 2 * time.Second
		if x, ok := b.Get("auth.backend.ldap.bind-dn"); ok {
			h.bindDN = x.Value.Str
		}
		if x, ok := b.Get("auth.backend.ldap.bind-pw"); ok {
			h.bindPW = x.Value.Str
		}
		if x, ok := b.Get("auth.backend.ldap.ca-file"); ok {
			h.caFile = x.Value.Str
		}
		if x, ok := b.Get("auth.backend.ldap.starttls"); ok {
			h.starttls, _ = core.ParseBool(x.Value)
		}
		if x, ok := b.Get("auth.backend.ldap.timeout"); ok {
			// Microseconds, read as strtol does (leading digits).
			s := strings.TrimSpace(x.Value.Str)
			n := 0
			for n < len(s) && s[n] >= '0' && s[n] <= '9' {
				n++
			}
			us, _ := strconv.ParseInt(s[:n], 10, 64)
			h.timeout = time.Duration(us) * time.Microsecond
		}
	}
	return nil
}

// hostURLs turns a hostname list (separated by blanks or commas) into LDAP
// URLs, adding "ldap://" where no scheme is given.
func hostURLs(s string) []string {
	var out []string
	for _, h := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == ',' }) {
		lh := strings.ToLower(h)
		if !strings.HasPrefix(lh, "ldap://") && !strings.HasPrefix(lh, "ldaps://") && !strings.HasPrefix(lh, "ldapi://") && !strings.HasPrefix(lh, "cldap://") {
			h = "ldap://" + h
		}
		out = append(out, h)
	}
	return out
}

// AuthBackends offers "ldap" to mod_auth.
func (m *Module) AuthBackends() map[string]auth.Backend {
	return map[string]auth.Backend{"ldap": backend{m}}
}

// Close drops the kept search connections.
func (m *Module) Close() error {
	for _, h := range m.hosts {
		h.mu.Lock()
		if h.conn != nil {
			h.conn.Close()
			h.conn = nil
		}
		h.mu.Unlock()
	}
	return nil
}

type backend struct{ m *Module }

// Basic is lighttpd's mod_authn_ldap_basic.
func (b backend) Basic(rc *core.Request, req *auth.Require, user, pw string) bool {
	c := b.m.table.Resolve(rc)
	if pw == "" && !c.allowEmptyPW {
		return false
	}
	if c.filter == "" {
		return false
	}
	if c.host == nil {
		rc.Logf("ldap: auth.backend.ldap.hostname is not set")
		return false
	}
	var dn string
	if c.filter[0] == ',' {
		dn = "uid=" + escapeDN(user) + c.filter
	} else {
		f := strings.ReplaceAll(c.filter, "?", ldap.EscapeFilter(user))
		var ok bool
		if dn, ok = c.host.findDN(rc, c.baseDN, f); !ok {
			return false
		}
	}
	// The user's bind uses the request's TLS settings on the host's servers.
	custom := c.starttls != c.host.starttls || c.bindDN != c.host.bindDN || c.bindPW != c.host.bindPW || c.caFile != c.host.caFile
	hc := c.host
	if custom {
		hc = &hostConf{urls: c.host.urls, timeout: c.host.timeout, starttls: c.starttls, bindDN: c.bindDN, bindPW: c.bindPW, caFile: c.caFile}
		defer hc.close()
	}
	conn, err := hc.dial()
	if err != nil {
		rc.Logf("ldap: %v", err)
		return false
	}
	if pw == "" {
		err = conn.UnauthenticatedBind(dn)
	} else {
		err = conn.Bind(dn, pw)
	}
	conn.Close()
	if err != nil {
		rc.Logf("ldap: ldap_sasl_bind_s(): %s", ldapErr(err))
		return false
	}
	if req.MatchUser(user) {
		return true
	}
	if len(req.Groups) == 0 {
		return false
	}
	return hc.memberOf(rc, c.groupMember, req.Groups, user, dn)
}

// findDN searches for the user's entry on the kept connection, connecting
// again once if the connection broke (lighttpd's mod_authn_ldap_search).
func (h *hostConf) findDN(rc *core.Request, base, filter string) (string, bool) {
	res, err := h.search(base, filter)
	if err != nil {
		rc.Logf("ldap: %s; filter: %s", ldapErr(err), filter)
		return "", false
	}
	switch n := len(res.Entries); {
	case n == 0:
		return "", false
	case n > 1:
		rc.Logf("ldap: more than one record returned.  you might have to refine the filter: %s", filter)
	}
	return res.Entries[0].DN, true
}

// memberOf reports whether an entry below one of the groups names the user
// in attr ("member" holds DNs; anything else is taken as memberUid).
func (h *hostConf) memberOf(rc *core.Request, attr string, groups []string, user, dn string) bool {
	who := user
	if attr == "member" {
		who = dn
	}
	filter := "(" + attr + "=" + ldap.EscapeFilter(who) + ")"
	for _, g := range groups {
		res, err := h.search(g, filter)
		if err != nil {
			rc.Logf("ldap: %s; filter: %s", ldapErr(err), filter)
			continue
		}
		if len(res.Entries) > 0 {
			return true
		}
	}
	return false
}

// search runs a subtree search asking for no attributes on the kept
// connection, reconnecting once on failure.
func (h *hostConf) search(base, filter string) (*ldap.SearchResult, error) {
	req := ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, []string{"1.1"}, nil)
	h.mu.Lock()
	conn := h.conn
	h.mu.Unlock()
	if conn != nil {
		if res, err := conn.Search(req); err == nil || ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchObject) {
			return res, err
		}
	}
	h.mu.Lock()
	if h.conn == conn {
		if conn != nil {
			conn.Close()
		}
		h.conn = nil
		c, err := h.dial()
		if err == nil {
			if h.bindDN != "" {
				err = c.Bind(h.bindDN, h.bindPW)
			} else {
				err = c.UnauthenticatedBind("")
			}
			if err != nil {
				c.Close()
			}
		}
		if err != nil {
			h.mu.Unlock()
			return nil, err
		}
		h.conn = c
	}
	conn = h.conn
	h.mu.Unlock()
	return conn.Search(req)
}

func (h *hostConf) close() {
	h.mu.Lock()
	if h.conn != nil {
		h.conn.Close()
		h.conn = nil
	}
	h.mu.Unlock()
}

// dial connects to the first server that answers, with StartTLS if set.
func (h *hostConf) dial() (*ldap.Conn, error) {
	var tc *tls.Config
	if h.starttls || anyLDAPS(h.urls) {
		var err error
		if tc, err = h.tlsConfig(); err != nil {
			return nil, err
		}
	}
	var last error = errors.New("no server")
	for _, u := range h.urls {
		d := &net.Dialer{Timeout: h.timeout}
		opts := []ldap.DialOpt{ldap.DialWithDialer(d)}
		if tc != nil {
			t := tc.Clone()
			t.ServerName = serverName(u)
			opts = append(opts, ldap.DialWithTLSConfig(t))
		}
		c, err := ldap.DialURL(u, opts...)
		if err != nil {
			last = err
			continue
		}
		c.SetTimeout(h.timeout)
		if h.starttls {
			t := tc.Clone()
			t.ServerName = serverName(u)
			if err := c.StartTLS(t); err != nil {
				c.Close()
				last = fmt.Errorf("ldap_start_tls_s(): %s", ldapErr(err))
				continue
			}
		}
		return c, nil
	}
	return nil, last
}

func anyLDAPS(urls []string) bool {
	for _, u := range urls {
		if strings.HasPrefix(strings.ToLower(u), "ldaps://") {
			return true
		}
	}
	return false
}

// serverName is the host part of an LDAP URL, for certificate checks.
func serverName(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexByte(u, '/'); i >= 0 {
		u = u[:i]
	}
	if h, _, err := net.SplitHostPort(u); err == nil {
		return h
	}
	return u
}

// tlsConfig trusts ca-file when set, else the system's roots; certificates
// are always verified.
func (h *hostConf) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if h.caFile != "" {
		pem, err := os.ReadFile(h.caFile)
		if err != nil {
			return nil, fmt.Errorf("ldap_set_option(LDAP_OPT_X_TLS_CACERTFILE): %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ldap_set_option(LDAP_OPT_X_TLS_CACERTFILE): no certificate in %s", h.caFile)
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// ldapErr is the server's result text for an LDAP error (what OpenLDAP's
// ldap_err2string prints), else the error.
func ldapErr(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) {
		if s, ok := ldap.LDAPResultCodeMap[le.ResultCode]; ok {
			return s
		}
	}
	return err.Error()
}

// escapeDN escapes a user name for an RDN value as lighttpd does (RFC 4514
// plus '=' and '#' for Active Directory): a leading and a trailing blank,
// `"+,;\<>=#` with a backslash, NUL and every byte above 0x7f as \xx.
func escapeDN(s string) string {
	const hexd = "0123456789abcdef"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' && (i == 0 || i == len(s)-1 && len(s) > 1):
			b.WriteString(`\ `)
		case c == '"' || c == '+' || c == ',' || c == ';' || c == '\\' || c == '<' || c == '>' || c == '=' || c == '#':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == 0 || c > 0x7f:
			b.WriteByte('\\')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
