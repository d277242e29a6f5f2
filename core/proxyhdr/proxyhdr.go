// Package proxyhdr reads the PROXY protocol header (HAProxy's, v1 text and v2
// binary) that a load balancer sends at the start of a connection, with the
// semantics of lighttpd 1.4.69's mod_extforward (extforward.hap-PROXY).
//
// The package knows nothing of config or trust: the caller decides that a
// connection must start with a header. Framing (how many bytes the header
// takes) is done here so that not one byte of the HTTP stream behind it is
// consumed; the v1 line and the v2 address block are decoded by
// github.com/pires/go-proxyproto; what lighttpd does beyond the spec (which
// headers keep the connection's own address, which TLVs become environment
// variables, how malformed TLVs are skipped) is done here.
package proxyhdr

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/pires/go-proxyproto"
	"github.com/pires/go-proxyproto/tlvparse"
)

// MaxLen is the longest header accepted, v1 line or v2 header with its TLVs:
// lighttpd peeks at most 256 bytes and refuses a header that does not fit.
const MaxLen = 256

var (
	// ErrInvalid is a connection that does not start with a header lighttpd
	// accepts (wrong protocol, unsupported version or command, bad fields).
	ErrInvalid = errors.New("invalid/unsupported PROXY header")
	// ErrTooLarge is a header longer than MaxLen.
	ErrTooLarge = errors.New("PROXY header longer than 256 bytes")
)

var (
	sigV1 = []byte("PROXY")
	sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// Header is what a PROXY header says about the client.
type Header struct {
	Version int // 1 or 2
	// HasAddr is false when the connection keeps its own address: v1
	// UNKNOWN, v2 LOCAL, or a v2 family other than TCP over IPv4/IPv6 and
	// unix stream (lighttpd ignores the addresses and TLVs of those).
	HasAddr bool
	// Addr is the client: an IP in inet_ntop form (an IPv4-mapped IPv6
	// address keeps its ::ffff: form, as in lighttpd), or a unix socket path.
	Addr string
	Port int
	// TLS is set by a v2 SSL TLV whose client field has PP2_CLIENT_SSL: the
	// client reached the proxy over TLS, the scheme is https.
	TLS bool
	// CertVerified: the client presented a certificate (on the connection
	// or in the session) and the proxy verified it, as lighttpd 1.4.69
	// reads the verify field (see readSSL).
	CertVerified bool
	// Env holds the variables lighttpd exports from v2 TLVs, in first-seen
	// order (a repeated TLV replaces the value): SSL_PROTOCOL,
	// SSL_CLIENT_S_DN_CN, SSL_CIPHER, SSL_SERVER_A_SIG, SSL_SERVER_A_KEY,
	// PP2_UNIQUE_ID.
	Env []Var
}

// Var is one environment variable taken from a TLV.
type Var struct{ Name, Value string }

// Lookup returns the value of the environment variable name.
func (h *Header) Lookup(name string) (string, bool) {
	for _, v := range h.Env {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}

func (h *Header) setEnv(name string, value []byte) {
	for i := range h.Env {
		if h.Env[i].Name == name {
			h.Env[i].Value = string(value)
			return
		}
	}
	h.Env = append(h.Env, Var{name, string(value)})
}

// Frame reports how long the PROXY header at the start of b is: n > 0 once
// b holds all of it, 0 while b is a valid beginning that needs more bytes,
// and an error when b cannot begin a header (the connection is dropped).
func Frame(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	switch b[0] {
	case sigV2[0]:
		if !bytes.HasPrefix(sigV2, b[:min(len(b), len(sigV2))]) {
			return 0, ErrInvalid
		}
		if len(b) < 16 {
			return 0, nil
		}
		if b[12]&0xF0 != 0x20 || b[12]&0x0F > 1 { // version 2; LOCAL or PROXY
			return 0, ErrInvalid
		}
		n := 16 + int(binary.BigEndian.Uint16(b[14:16]))
		if n > MaxLen {
			return 0, ErrTooLarge
		}
		if len(b) < n {
			return 0, nil
		}
		return n, nil
	case sigV1[0]:
		if !bytes.HasPrefix(sigV1, b[:min(len(b), len(sigV1))]) {
			return 0, ErrInvalid
		}
		// The line ends at its first CR, which must be followed by LF.
		i := bytes.IndexByte(b, '\r')
		switch {
		case i < 0 && len(b) >= MaxLen, i+2 > MaxLen:
			return 0, ErrTooLarge
		case i < 0 || i+1 == len(b):
			return 0, nil
		case b[i+1] != '\n':
			return 0, ErrInvalid
		}
		return i + 2, nil
	}
	return 0, ErrInvalid
}

// readers are reused: go-proxyproto reads from a *bufio.Reader.
var readers = sync.Pool{New: func() any {
	p := &libReader{}
	p.br = bufio.NewReaderSize(&p.src, MaxLen)
	return p
}}

type libReader struct {
	src bytes.Reader
	br  *bufio.Reader
}

func libParse(b []byte) (*proxyproto.Header, error) {
	p := readers.Get().(*libReader)
	defer readers.Put(p)
	p.src.Reset(b)
	p.br.Reset(&p.src)
	return proxyproto.Read(p.br)
}

// Parse decodes b, exactly one header as delimited by Frame.
func Parse(b []byte) (*Header, error) {
	n, err := Frame(b)
	if err != nil {
		return nil, err
	}
	if n == 0 || n != len(b) { // incomplete, or bytes behind the header
		return nil, ErrInvalid
	}
	if b[0] == sigV1[0] {
		return parseV1(b)
	}
	return parseV2(b)
}

func parseV1(b []byte) (*Header, error) {
	ph, err := libParse(b)
	if err != nil {
		return nil, ErrInvalid
	}
	h := &Header{Version: 1}
	if ph.TransportProtocol == proxyproto.UNSPEC { // "PROXY UNKNOWN ..."
		return h, nil
	}
	src, sok := ph.SourceAddr.(*net.TCPAddr)
	dst, dok := ph.DestinationAddr.(*net.TCPAddr)
	// lighttpd refuses port 0 on either side.
	if !sok || !dok || src.Port == 0 || dst.Port == 0 {
		return nil, ErrInvalid
	}
	return h.withIP(src.IP, src.Port)
}

// withIP sets the client address, in the family the header declared.
func (h *Header) withIP(ip net.IP, port int) (*Header, error) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return nil, ErrInvalid
	}
	h.HasAddr, h.Addr, h.Port = true, a.String(), port
	return h, nil
}

// Sizes of the v2 address blocks.
const (
	addrLenV4   = 12
	addrLenV6   = 36
	addrLenUnix = 216
)

func parseV2(b []byte) (*Header, error) {
	h := &Header{Version: 2}
	if proxyproto.ProtocolVersionAndCommand(b[12]) == proxyproto.LOCAL {
		return h, nil
	}
	var addrLen int
	switch proxyproto.AddressFamilyAndProtocol(b[13]) {
	case proxyproto.TCPv4:
		addrLen = addrLenV4
	case proxyproto.TCPv6:
		addrLen = addrLenV6
	case proxyproto.UnixStream:
		addrLen = addrLenUnix
		// A source path without its NUL within 108 bytes is refused.
		if len(b) < 16+addrLen || bytes.IndexByte(b[16:16+addrLen/2], 0) < 0 {
			return nil, ErrInvalid
		}
	default: // UNSPEC, UDP, unix datagram, undefined: keep the connection's address
		return h, nil
	}
	// The library refuses a length shorter than the address block (lighttpd
	// would read the HTTP bytes behind the header as the address).
	ph, err := libParse(b)
	if err != nil {
		return nil, ErrInvalid
	}
	switch a := ph.SourceAddr.(type) {
	case *net.TCPAddr:
		if _, err := h.withIP(a.IP, a.Port); err != nil {
			return nil, err
		}
	case *net.UnixAddr:
		h.HasAddr, h.Addr = true, a.Name
	default:
		return nil, ErrInvalid
	}
	h.readTLVs(b[16+addrLen:])
	return h, nil
}

// readTLVs takes what lighttpd uses from the TLVs after the address block.
// A truncated TLV ends the walk; what came before it is kept.
func (h *Header) readTLVs(p []byte) {
	for len(p) >= 3 {
		typ, v, rest, ok := nextTLV(p)
		if !ok {
			return
		}
		p = rest
		switch typ {
		case proxyproto.PP2_TYPE_SSL:
			h.readSSL(v)
		case proxyproto.PP2_TYPE_UNIQUE_ID:
			h.setEnv("PP2_UNIQUE_ID", v)
		}
	}
}

// readSSL reads a PP2_TYPE_SSL value: the client bit field, the verify
// result, then sub-TLVs.
func (h *Header) readSSL(v []byte) {
	if len(v) < 5 {
		return
	}
	client := v[0]
	if client&tlvparse.PP2_BITFIELD_CLIENT_SSL != 0 {
		h.TLS = true
	}
	// lighttpd 1.4.69 reads the 32-bit verify field through a C struct
	// that is not packed: at offset 4 instead of 1 (lighttpd bug #3298), so
	// it sees the last verify byte and the first three bytes after it. Kept:
	// it fails closed (HAProxy's first sub-TLV, the TLS version, makes those
	// bytes non-zero), and a certificate lighttpd does not vouch for must
	// not be vouched for here.
	certs := tlvparse.PP2_BITFIELD_CLIENT_CERT_CONN | tlvparse.PP2_BITFIELD_CLIENT_CERT_SESS
	if client&certs != 0 && len(v) >= 8 && binary.BigEndian.Uint32(v[4:8]) == 0 {
		h.CertVerified = true
	}
	for p := v[5:]; len(p) >= 3; {
		typ, sv, rest, ok := nextTLV(p)
		if !ok {
			return
		}
		p = rest
		if name := sslVar(typ); name != "" {
			h.setEnv(name, sv)
		}
	}
}

func sslVar(t proxyproto.PP2Type) string {
	switch t {
	case proxyproto.PP2_SUBTYPE_SSL_VERSION:
		return "SSL_PROTOCOL"
	case proxyproto.PP2_SUBTYPE_SSL_CN:
		return "SSL_CLIENT_S_DN_CN"
	case proxyproto.PP2_SUBTYPE_SSL_CIPHER:
		return "SSL_CIPHER"
	case proxyproto.PP2_SUBTYPE_SSL_SIG_ALG:
		return "SSL_SERVER_A_SIG"
	case proxyproto.PP2_SUBTYPE_SSL_KEY_ALG:
		return "SSL_SERVER_A_KEY"
	}
	return ""
}

// nextTLV splits the first type-length-value off p (len(p) >= 3).
func nextTLV(p []byte) (proxyproto.PP2Type, []byte, []byte, bool) {
	n := int(binary.BigEndian.Uint16(p[1:3]))
	if 3+n > len(p) {
		return 0, nil, nil, false
	}
	return proxyproto.PP2Type(p[0]), p[3 : 3+n], p[3+n:], true
}
