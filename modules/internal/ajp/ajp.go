// Package ajp speaks the AJP/1.3 packets lighttpd's mod_ajp13 uses: the
// FORWARD_REQUEST it builds (at most MaxPacket bytes), request body
// packets, and the container's SEND_HEADERS, SEND_BODY_CHUNK,
// GET_BODY_CHUNK and END_RESPONSE packets.
package ajp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxPacket is AJP13_MAX_PACKET_SIZE.
const MaxPacket = 8192

// Packet types sent by the container.
const (
	SendBodyChunk = 3
	SendHeaders   = 4
	EndResponse   = 5
	GetBodyChunk  = 6
	CPongReply    = 9
)

// ErrTooLarge: the FORWARD_REQUEST does not fit MaxPacket (lighttpd: 400).
var ErrTooLarge = errors.New("ajp13: request too large for one packet")

// Methods maps HTTP methods to their AJP codes (0: not representable).
var Methods = map[string]byte{
	"OPTIONS": 1, "GET": 2, "HEAD": 3, "POST": 4, "PUT": 5, "DELETE": 6, "TRACE": 7,
	"PROPFIND": 8, "PROPPATCH": 9, "MKCOL": 10, "COPY": 11, "MOVE": 12, "LOCK": 13,
	"UNLOCK": 14, "ACL": 15, "REPORT": 16, "VERSION-CONTROL": 17, "CHECKIN": 18,
	"CHECKOUT": 19, "UNCHECKOUT": 20, "SEARCH": 21, "MKWORKSPACE": 22, "UPDATE": 23,
	"LABEL": 24, "MERGE": 25, "BASELINE-CONTROL": 26, "MKACTIVITY": 27,
}

// requestCodes are the SC_REQ_* header codes (lower case names).
var requestCodes = map[string]uint16{
	"accept": 0xA001, "accept-charset": 0xA002, "accept-encoding": 0xA003,
	"accept-language": 0xA004, "authorization": 0xA005, "connection": 0xA006,
	"content-type": 0xA007, "content-length": 0xA008, "cookie": 0xA009,
	"cookie2": 0xA00A, "host": 0xA00B, "pragma": 0xA00C, "referer": 0xA00D,
	"user-agent": 0xA00E,
}

// responseNames are the SC_RESP_* header names by code 0xA001..0xA00B.
var responseNames = [...]string{"Content-Type", "Content-Language", "Content-Length", "Date",
	"Last-Modified", "Location", "Set-Cookie", "Set-Cookie2", "Servlet-Engine", "Status", "WWW-Authenticate"}

// Attribute codes.
const (
	AttrRemoteUser  = 0x03
	AttrAuthType    = 0x04
	AttrQueryString = 0x05
	AttrSecret      = 0x0C
)

// Request is what a FORWARD_REQUEST carries.
type Request struct {
	Method     byte
	Protocol   string
	URI        string // the decoded URL path
	RemoteAddr string
	ServerName string // "" is sent as null
	ServerPort uint16
	SSL        bool
	Headers    [][2]string // name, value in order
	Attrs      []Attr
}

// Attr is a request attribute.
type Attr struct {
	Code  byte
	Value string
}

type packet struct {
	b   []byte
	err error
}

func (p *packet) byte1(v byte) {
	if len(p.b)+1 > MaxPacket {
		p.err = ErrTooLarge
		return
	}
	p.b = append(p.b, v)
}

func (p *packet) uint16(v uint16) {
	if len(p.b)+2 > MaxPacket {
		p.err = ErrTooLarge
		return
	}
	p.b = binary.BigEndian.AppendUint16(p.b, v)
}

// str writes an AJP string; an empty one (or one of 0xFFFF bytes) is null.
func (p *packet) str(s string) {
	if len(s) == 0 || len(s) == 0xffff {
		p.uint16(0xffff)
		return
	}
	if len(p.b)+2+len(s)+1 > MaxPacket {
		p.err = ErrTooLarge
		return
	}
	p.b = binary.BigEndian.AppendUint16(p.b, uint16(len(s)))
	p.b = append(p.b, s...)
	p.b = append(p.b, 0)
}

// AppendForwardRequest appends the FORWARD_REQUEST packet for r.
func AppendForwardRequest(dst []byte, r *Request) ([]byte, error) {
	p := &packet{b: append(dst[:0], 0x12, 0x34, 0, 0, 2, r.Method)}
	p.str(r.Protocol)
	p.str(r.URI)
	p.str(r.RemoteAddr)
	p.str("")
	p.str(r.ServerName)
	p.uint16(r.ServerPort)
	if r.SSL {
		p.byte1(1)
	} else {
		p.byte1(0)
	}
	p.uint16(uint16(len(r.Headers)))
	for _, h := range r.Headers {
		if code, ok := requestCodes[lower(h[0])]; ok {
			p.uint16(code)
		} else {
			p.str(h[0])
		}
		p.str(h[1])
	}
	for _, a := range r.Attrs {
		p.byte1(a.Code)
		p.str(a.Value)
	}
	p.byte1(0xff)
	if p.err != nil {
		return nil, p.err
	}
	binary.BigEndian.PutUint16(p.b[2:4], uint16(len(p.b)-4))
	return p.b, nil
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

// AppendBodyPacket appends a request body packet as lighttpd 1.4.69
// frames it: the 4-byte header carries the data length, and the data
// follows (no second length field).
func AppendBodyPacket(dst, data []byte) []byte {
	dst = append(dst, 0x12, 0x34)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(data)))
	return append(dst, data...)
}

// MaxBodyData is the most body data in one packet.
const MaxBodyData = MaxPacket - 4

// ReadPacket reads one container packet ("AB", length, payload): it
// returns the packet type and the payload after it.
func ReadPacket(br *bufio.Reader) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(br, h[:4]); err != nil {
		return 0, nil, err
	}
	if h[0] != 'A' || h[1] != 'B' {
		return 0, nil, ErrPrefix
	}
	n := int(binary.BigEndian.Uint16(h[2:4]))
	if n == 0 {
		return 0, nil, ErrPacket
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return p[0], p[1:], nil
}

var (
	// ErrPrefix: a packet not starting with "AB".
	ErrPrefix = errors.New("invalid packet prefix sent from container")
	// ErrPacket: a packet too short for its type.
	ErrPacket = errors.New("AJP13: packet received with invalid length")
)

// HeadText turns a SEND_HEADERS payload into the response head lighttpd
// parses with its common backend rules: "HTTP/1.1 NNN message" and one
// "Name: value" line per header, LF-terminated, then an empty line. A
// truncated or unknown-coded header ends the list, as in lighttpd.
func HeadText(dst, p []byte) ([]byte, error) {
	if len(p) < 2 {
		return nil, ErrPacket
	}
	dst = append(dst, "HTTP/1.1 "...)
	dst = strconv.AppendUint(dst, uint64(binary.BigEndian.Uint16(p)), 10)
	p = p[2:]
	str := func() (string, bool) {
		if len(p) < 2 {
			return "", false
		}
		n := int(binary.BigEndian.Uint16(p))
		if len(p) < 2+n+1 {
			return "", false
		}
		s := string(p[2 : 2+n])
		p = p[2+n+1:]
		return s, true
	}
	msg, ok := str()
	if ok {
		dst = append(dst, ' ')
		dst = append(dst, msg...)
		if len(p) >= 2 {
			nh := int(binary.BigEndian.Uint16(p))
			p = p[2:]
			for ; nh > 0; nh-- {
				if len(p) < 2 {
					break
				}
				code := binary.BigEndian.Uint16(p)
				var name string
				if code >= 0xA000 {
					if code == 0xA000 || code > 0xA00B {
						break
					}
					name = responseNames[code&0xf-1]
					p = p[2:]
				} else {
					var ok bool
					if name, ok = str(); !ok {
						break
					}
				}
				v, ok := str()
				dst = append(dst, '\n')
				dst = append(dst, name...)
				dst = append(dst, ": "...)
				if !ok {
					break
				}
				dst = append(dst, v...)
			}
		}
	}
	return append(dst, "\n\n"...), nil
}

// BodyChunk reads a SEND_BODY_CHUNK payload: its data (which may be
// empty, a flush).
func BodyChunk(p []byte) ([]byte, error) {
	if len(p) < 2 {
		return nil, ErrPacket
	}
	n := int(binary.BigEndian.Uint16(p))
	if n > len(p)-2 {
		return nil, fmt.Errorf("AJP13: body packet received with invalid length")
	}
	return p[2 : 2+n], nil
}

// Requested reads a GET_BODY_CHUNK payload: how many body bytes the
// container asks for.
func Requested(p []byte) (int, error) {
	if len(p) < 2 {
		return 0, ErrPacket
	}
	return int(binary.BigEndian.Uint16(p)), nil
}
