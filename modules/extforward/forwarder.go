package extforward

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/golighty/golighty/core"
)

// forwarder is extforward.forwarder compiled: which proxies are trusted.
type forwarder struct {
	// all is the "all" entry: 1 trusts every connecting peer (not the
	// addresses in a chain), -1 trusts none, 0 when absent.
	all int8
	// exact maps a lower-cased key to its trust. Keys are compared as
	// strings, not as addresses ("::1" is not "0::1"), and an exact
	// "untrusted" entry wins over a trusted network, as in lighttpd.
	exact map[string]bool
	// nets are the trusted CIDR entries, IPv4 ones as IPv4-mapped IPv6
	// prefixes so that one comparison serves both families.
	nets []netip.Prefix
}

// parseForwarder reads the ( "addr" => "trust" ) list; warn receives
// lighttpd's non-fatal complaints.
func parseForwarder(kvs []core.KV, warn func(format string, args ...any)) (*forwarder, error) {
	f := &forwarder{exact: make(map[string]bool, len(kvs))}
	for _, kv := range kvs {
		trust := strings.EqualFold(kv.Value, "trust")
		if !trust && !strings.EqualFold(kv.Value, "untrusted") {
			warn(`ERROR: expect "trust", not "%s" => "%s"; treating as untrusted`, kv.Key, kv.Value)
		}
		key := strings.ToLower(kv.Key)
		if key == "all" {
			f.all = -1
			if trust {
				f.all = 1
			}
		}
		slash := strings.IndexByte(kv.Key, '/')
		if slash < 0 {
			f.exact[key] = trust
			continue
		}
		f.exact[key] = false // a network's own spelling is not a trusted address
		if !trust {
			warn(`ERROR: untrusted CIDR masks are ignored ("%s" => "%s")`, kv.Key, kv.Value)
			continue
		}
		p, err := parseNet(kv.Key[:slash], kv.Key[slash+1:])
		if err != nil {
			return nil, err
		}
		f.nets = append(f.nets, p)
	}
	return f, nil
}

// parseNet reads "addr/bits" as lighttpd does: bits must be decimal and
// positive (more than the family has means the whole address), the address
// numeric, IPv6 optionally in brackets, IPv4 in any inet_aton form ("10/8"
// is 0.0.0.10/8, as glibc reads it).
func parseNet(addr, bits string) (netip.Prefix, error) {
	n, err := strconv.Atoi(bits)
	if bits == "" || bits[0] < '0' || bits[0] > '9' || err != nil || n <= 0 {
		return netip.Prefix{}, fmt.Errorf("ERROR: invalid netmask: %s/%s %s; unexpected value for extforward.forwarder",
			addr, bits, strings.TrimLeft(bits, "0123456789"))
	}
	if len(addr) > 2 && addr[0] == '[' && addr[len(addr)-1] == ']' {
		addr = addr[1 : len(addr)-1]
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		v4, ok := parseInetAton(addr)
		if !ok {
			return netip.Prefix{}, fmt.Errorf("could not parse ip address %s; unexpected value for extforward.forwarder", addr)
		}
		a = v4
	}
	if a.Is4() {
		a, n = netip.AddrFrom16(a.As16()), 96+min(n, 32)
	}
	return netip.PrefixFrom(a, min(n, 128)).Masked(), nil
}

// parseInetAton reads the IPv4 forms inet_aton accepts beyond the dotted
// quad: one to four parts, each decimal, octal (leading 0) or hex (0x); the
// last part fills the remaining bytes.
func parseInetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v [4]uint64
	for i, p := range parts {
		n, ok := atonPart(p)
		if !ok {
			return netip.Addr{}, false
		}
		v[i] = n
	}
	last := len(parts) - 1
	for i := 0; i < last; i++ {
		if v[i] > 0xff {
			return netip.Addr{}, false
		}
	}
	if v[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i := 0; i < last; i++ {
		b[i] = byte(v[i])
	}
	for i, x := 3, v[last]; i >= last; i, x = i-1, x>>8 {
		b[i] = byte(x)
	}
	return netip.AddrFrom4(b), true
}

// atonPart reads one inet_aton number: 0x hex, 0 octal, else decimal.
func atonPart(p string) (uint64, bool) {
	base := 10
	switch {
	case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
		p, base = p[2:], 16
	case len(p) > 1 && p[0] == '0':
		p, base = p[1:], 8
	}
	if p == "" || p[0] == '+' || p[0] == '-' || strings.Contains(p, "_") {
		return 0, false
	}
	n, err := strconv.ParseUint(p, base, 32)
	return n, err == nil
}

// trusted is lighttpd's is_proxy_trusted for one address of a chain (the
// "all" entry does not apply here).
func (f *forwarder) trusted(ip string) bool {
	if t, ok := f.exact[lowerKey(ip)]; ok {
		return t
	}
	if len(f.nets) == 0 || ip == "" || len(ip) >= 64 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || a.Zone() != "" {
		return false
	}
	// An IPv4-mapped candidate is compared as its IPv4 address (lighttpd
	// 1.4.69 lets ::ffff:a.b.c.d match every IPv4 network: a defect not
	// kept, as it trusts spoofed chain entries).
	a = netip.AddrFrom16(a.As16())
	for _, p := range f.nets {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// connTrusted is lighttpd's is_connection_trusted for the connecting peer.
func (f *forwarder) connTrusted(ip string) bool {
	if f.all != 0 {
		return f.all == 1
	}
	return f.trusted(ip)
}

// lowerKey lower-cases ASCII letters; strings without upper-case letters
// (every address a proxy writes in lower case) are returned as they are.
func lowerKey(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}
