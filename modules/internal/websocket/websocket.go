// Package websocket is the frame layer of lighttpd's mod_wstunnel: it
// decodes the masked frames a WebSocket client sends (RFC 6455, and the
// 0x00...0xFF frames of draft hybi-00) into the payload stream a backend
// gets, and frames backend data, pings and closes for the client. It
// follows mod_wstunnel's rules, not a full RFC 6455 endpoint: the FIN bit
// is not looked at, data frames of any size are streamed, and only a ping
// larger than MaxControl is refused.
package websocket

import (
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
)

// Opcodes.
const (
	OpCont  = 0x0
	OpText  = 0x1
	OpBin   = 0x2
	OpClose = 0x8
	OpPing  = 0x9
	OpPong  = 0xa
)

// MaxControl bounds a ping's payload and a hybi-00 frame (lighttpd's
// MOD_WEBSOCKET_BUFMAX).
const MaxControl = 0x0fffff

var (
	// ErrClose: the client sent a close frame.
	ErrClose = errors.New("websocket: close frame received")
	// ErrUnmasked: a client frame without a mask.
	ErrUnmasked = errors.New("websocket: payload was not masked")
	// ErrOpcode: an opcode lighttpd does not know.
	ErrOpcode = errors.New("websocket: invalid frame type")
	// ErrTooLarge: a ping (or hybi-00 frame) over MaxControl.
	ErrTooLarge = errors.New("websocket: frame size has been exceeded")
	// ErrFrame: a hybi-00 frame not starting with 0x00.
	ErrFrame = errors.New("websocket: invalid frame")
)

// Accept is the Sec-WebSocket-Accept value for a Sec-WebSocket-Key.
func Accept(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte("258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// AppendFrame appends a server frame (FIN set, not masked) with opcode op.
// Lengths of 64 KiB and more use the 8-byte form with the upper 32 bits
// zero, as lighttpd writes them.
func AppendFrame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, payload...)
}

// Decoder turns client frames into payload bytes. Data frames (text,
// binary, continuation) are passed on as they arrive, unmasked; a ping is
// answered with a pong carrying its payload; a pong is dropped.
type Decoder struct {
	// Before is the type a continuation frame takes until a text or
	// binary frame arrives (the tunnel's frame type, OpText or OpBin).
	Before  byte
	state   uint8
	op      byte // current frame's type
	size    uint64
	sizeCnt int
	mask    [4]byte
	maskCnt int
	ping    []byte
}

const (
	stInit = iota
	stLength
	stExtLength
	stMask
	stPayload
)

// Decode consumes p (modified in place: payloads are unmasked there).
// data receives payload bytes for the backend; pong receives the payload
// of a pong to send to the client. An error ends the stream: ErrClose
// for a close frame, others for frames lighttpd refuses.
func (d *Decoder) Decode(p []byte, data func([]byte) error, pong func([]byte) error) error {
	for i := 0; i < len(p); {
		switch d.state {
		case stInit:
			switch op := p[i] & 0x0f; op {
			case OpCont:
				// A continuation has the type of the last data frame.
				d.op = d.Before
			case OpText, OpBin:
				d.op, d.Before = op, op
			case OpPing, OpPong:
				d.op = op
			case OpClose:
				return ErrClose
			default:
				return ErrOpcode
			}
			i++
			d.state = stLength
		case stLength:
			if p[i]&0x80 == 0 {
				return ErrUnmasked
			}
			d.maskCnt = 0
			switch n := p[i] & 0x7f; n {
			case 126:
				d.size, d.sizeCnt, d.state = 0, 2, stExtLength
			case 127:
				d.size, d.sizeCnt, d.state = 0, 8, stExtLength
			default:
				d.size, d.state = uint64(n), stMask
			}
			i++
		case stExtLength:
			d.size = d.size<<8 | uint64(p[i])
			d.sizeCnt--
			i++
			if d.sizeCnt == 0 {
				if d.op == OpPing && d.size > MaxControl {
					return ErrTooLarge
				}
				d.state = stMask
			}
		case stMask:
			d.mask[d.maskCnt] = p[i]
			d.maskCnt++
			i++
			if d.maskCnt == 4 {
				d.maskCnt = 0
				if d.size == 0 {
					d.state = stInit
					if d.op == OpPing {
						if err := pong(nil); err != nil {
							return err
						}
					}
				} else {
					d.state = stPayload
				}
			}
		case stPayload:
			n := uint64(len(p) - i)
			if n > d.size {
				n = d.size
			}
			chunk := p[i : i+int(n)]
			for k := range chunk {
				chunk[k] ^= d.mask[d.maskCnt]
				d.maskCnt = (d.maskCnt + 1) & 3
			}
			i += int(n)
			d.size -= n
			if d.size == 0 {
				d.state = stInit
			}
			switch d.op {
			case OpText, OpBin:
				if err := data(chunk); err != nil {
					return err
				}
			case OpPing:
				d.ping = append(d.ping, chunk...)
				if d.size == 0 {
					err := pong(d.ping)
					d.ping = d.ping[:0]
					if err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// Hybi00Decoder decodes draft hybi-00 frames: 0x00 payload 0xFF, or 0xFF
// (a close). Payloads of binary tunnels arrive base64-encoded.
type Hybi00Decoder struct {
	Binary  bool
	inFrame bool
	size    int
	buf     []byte
}

// Decode consumes p, passing payload bytes (decoded from base64 when
// Binary) to data.
func (d *Hybi00Decoder) Decode(p []byte, data func([]byte) error) error {
	for i := 0; i < len(p); {
		if !d.inFrame {
			switch p[i] {
			case 0x00:
				d.inFrame, d.size = true, 0
				i++
				continue
			case 0xff:
				return ErrClose
			}
			return ErrFrame
		}
		end := i
		for end < len(p) && p[end] != 0xff {
			end++
		}
		d.size += end - i
		if d.size > MaxControl {
			return ErrTooLarge
		}
		chunk := p[i:end]
		done := end < len(p)
		if done {
			d.inFrame = false
			end++
		}
		i = end
		if !d.Binary {
			if len(chunk) > 0 {
				if err := data(chunk); err != nil {
					return err
				}
			}
			continue
		}
		d.buf = append(d.buf, chunk...)
		if done && len(d.buf) > 0 {
			raw, err := base64.StdEncoding.DecodeString(string(d.buf))
			d.buf = d.buf[:0]
			if err != nil {
				return err
			}
			if err := data(raw); err != nil {
				return err
			}
		}
	}
	return nil
}

// AppendHybi00 frames payload for a hybi-00 client (binary tunnels in
// base64); an empty data frame is not sent. close gives 0xFF 0x00.
func AppendHybi00(dst []byte, payload []byte, binary, close bool) []byte {
	if close {
		return append(dst, 0xff, 0x00)
	}
	if len(payload) == 0 {
		return dst
	}
	dst = append(dst, 0x00)
	if binary {
		dst = base64.StdEncoding.AppendEncode(dst, payload)
	} else {
		dst = append(dst, payload...)
	}
	return append(dst, 0xff)
}

// Hybi00Key decodes a Sec-WebSocket-Key1/2 value: its digits divided by
// its number of spaces.
func Hybi00Key(v string) (uint32, bool) {
	var digits []byte
	spaces := uint64(0)
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits = append(digits, c)
			if len(digits) > 10 {
				return 0, false
			}
		case c == ' ':
			spaces++
		}
	}
	if len(digits) == 0 || spaces == 0 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil || n > 0xffffffff {
		return 0, false
	}
	return uint32(n / spaces), true
}

// Hybi00Response is the 16-byte MD5 answer to a hybi-00 handshake. The two
// numbers are laid out little-endian, as lighttpd does on every host.
func Hybi00Response(k1, k2 uint32, key3 []byte) [16]byte {
	var b [16]byte
	binary.LittleEndian.PutUint32(b[0:], k1)
	binary.LittleEndian.PutUint32(b[4:], k2)
	copy(b[8:], key3)
	return md5.Sum(b[:])
}
