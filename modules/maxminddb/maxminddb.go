// Package maxminddb is lighttpd's mod_maxminddb: the client address is
// looked up in a MaxMind GeoIP2/GeoLite2 database and the values named by
// maxminddb.env become variables of backend requests (CGI, FastCGI, SSI),
// e.g. GEOIP_COUNTRY_CODE.
package maxminddb

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"strconv"
	"strings"

	"github.com/golighty/golighty/core"
	"github.com/oschwald/maxminddb-golang/v2"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_maxminddb", New: func() core.Module { return &Module{} }})
}

// envVar is one maxminddb.env entry: the variable and the path of the
// value in a lookup's record ("country/iso_code"; numbers index arrays).
type envVar struct {
	name string
	path []any
}

type conf struct {
	activate bool
	db       *maxminddb.Reader
	env      []envVar
}

// Module is one loaded mod_maxminddb.
type Module struct {
	table   *core.Table[conf]
	readers []*maxminddb.Reader
}

var (
	_ core.RequestEnvHook = (*Module)(nil)
	_ core.Closer         = (*Module)(nil)
)

// Setup binds the keys and opens every database named, refusing what
// lighttpd refuses (a name not ending in ".mmdb", an unreadable file, a
// malformed env list).
func (m *Module) Setup(sc *core.SetupContext) error {
	var err error
	m.table, err = core.Bind(sc, conf{}, []core.Key[conf]{
		{Name: "maxminddb.activate", Type: core.TypeBool, Bind: func(v core.Value) (func(*conf), error) {
			on := v.Bool()
			return func(c *conf) { c.activate = on }, nil
		}},
		{Name: "maxminddb.db", Type: core.TypeString, Bind: func(v core.Value) (func(*conf), error) {
			name := v.String()
			if strings.TrimSpace(name) == "" {
				return nil, nil
			}
			r, err := openDB(name)
			if err != nil {
				return nil, err
			}
			m.readers = append(m.readers, r)
			return func(c *conf) { c.db = r }, nil
		}},
		{Name: "maxminddb.env", Type: core.TypeKV, Bind: func(v core.Value) (func(*conf), error) {
			env, err := parseEnv(v)
			if err != nil || env == nil {
				return nil, err
			}
			return func(c *conf) { c.env = env }, nil
		}},
	})
	if err != nil {
		m.Close()
	}
	return err
}

func openDB(name string) (*maxminddb.Reader, error) {
	if !strings.HasSuffix(name, ".mmdb") || len(name) == len(".mmdb") {
		return nil, fmt.Errorf("GeoIP database is of unsupported type %s)", name)
	}
	r, err := maxminddb.Open(name)
	if err != nil {
		return nil, fmt.Errorf("failed to open GeoIP2 database (%s): %w", name, err)
	}
	return r, nil
}

// parseEnv checks maxminddb.env and splits each path at '/'; an empty list
// sets nothing (as in lighttpd, it does not clear an outer block's list).
func parseEnv(v core.Value) ([]envVar, error) {
	var env []envVar
	for _, kv := range v.KVs() {
		p := kv.Value
		if strings.TrimSpace(p) == "" || p[0] == '/' || p[len(p)-1] == '/' {
			return nil, errors.New("maxminddb.env must be a list of non-empty strings and must not begin or end with '/'")
		}
		var path []any
		for _, part := range strings.Split(p, "/") {
			if n, err := strconv.Atoi(part); err == nil {
				path = append(path, n)
			} else {
				path = append(path, part)
			}
		}
		env = append(env, envVar{name: kv.Key, path: path})
	}
	return env, nil
}

// RequestEnv looks the client up when a backend's variables are built and
// sets the variables whose paths hold a scalar.
func (m *Module) RequestEnv(rc *core.Request) {
	c := m.table.Resolve(rc)
	if !c.activate || c.env == nil || c.db == nil {
		return
	}
	ip, err := netip.ParseAddr(rc.Conn.RemoteIP)
	if err != nil {
		return // a unix-socket client has no address to look up
	}
	res := c.db.Lookup(ip)
	if !res.Found() {
		return
	}
	for _, e := range c.env {
		var v any
		if err := res.DecodePath(&v, e.path...); err != nil || v == nil {
			continue
		}
		if s, ok := format(v); ok {
			rc.Env.Set(e.name, s)
		}
	}
}

// format writes a value as lighttpd does: strings and bytes as they are,
// booleans 1/0, floating point with five decimals, integers in decimal, and
// a uint128 as "0x" with the hex of its bytes in memory order (little
// endian on the amd64 build users run). Maps and arrays set nothing.
func format(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case bool:
		if x {
			return "1", true
		}
		return "0", true
	case float64:
		return strconv.FormatFloat(x, 'f', 5, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'f', 5, 64), true
	case int:
		return strconv.FormatInt(int64(x), 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint16:
		return strconv.FormatUint(uint64(x), 10), true
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case *big.Int:
		var b [16]byte
		x.FillBytes(b[:])
		for i, j := 0, 15; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return "0x" + strings.ToUpper(hex.EncodeToString(b[:])), true
	case big.Int:
		return format(&x)
	}
	return "", false
}

// Close releases the databases.
func (m *Module) Close() error {
	for _, r := range m.readers {
		r.Close()
	}
	m.readers = nil
	return nil
}
