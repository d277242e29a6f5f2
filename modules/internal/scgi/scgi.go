// Package scgi encodes the request headers of the SCGI protocol (a
// netstring of NUL-separated names and values, CONTENT_LENGTH first and
// SCGI=1 last) and of uwsgi (a 4-byte packet header and 16-bit
// little-endian sized names and values), as lighttpd's mod_scgi sends them,
// and decodes both for tests and for fuzzing.
package scgi

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxUwsgi is the largest uwsgi header block (its size is 16 bits):
// larger ones are answered 431.
const MaxUwsgi = 0xffff

// ErrTooLarge: the uwsgi header block does not fit 16 bits (lighttpd: 431).
var ErrTooLarge = errors.New("uwsgi header block too large")

// ErrVarTooLarge: a uwsgi name or value does not fit 16 bits (lighttpd: 400).
var ErrVarTooLarge = errors.New("uwsgi variable too large")

// Env collects CGI variables (it is a core.EnvSink) and encodes them.
type Env struct {
	buf   []byte
	uwsgi bool
	big   bool // a uwsgi name or value over 65535 bytes
}

// Reset prepares e for a request in the given protocol; the buffer is
// kept. Room for the protocol's prefix is reserved.
func (e *Env) Reset(uwsgi bool) {
	e.uwsgi, e.big = uwsgi, false
	// 10 bytes are enough for "NNNNNNNNN:" and for the 4-byte uwsgi
	// header; Bytes moves the prefix next to the variables.
	e.buf = append(e.buf[:0], make([]byte, 10)...)
}

// Add appends one variable.
func (e *Env) Add(name, value string) {
	if !e.uwsgi {
		e.buf = append(e.buf, name...)
		e.buf = append(e.buf, 0)
		e.buf = append(e.buf, value...)
		e.buf = append(e.buf, 0)
		return
	}
	if len(name) > MaxUwsgi || len(value) > MaxUwsgi {
		e.big = true
		return
	}
	e.buf = binary.LittleEndian.AppendUint16(e.buf, uint16(len(name)))
	e.buf = append(e.buf, name...)
	e.buf = binary.LittleEndian.AppendUint16(e.buf, uint16(len(value)))
	e.buf = append(e.buf, value...)
}

// Bytes finishes the block: for SCGI, SCGI=1 and the netstring framing;
// for uwsgi the packet header (modifiers 0). The result is valid until
// the next Reset.
func (e *Env) Bytes() ([]byte, error) {
	if e.uwsgi {
		n := len(e.buf) - 10
		if e.big {
			return nil, ErrVarTooLarge
		}
		if n > MaxUwsgi {
			return nil, ErrTooLarge
		}
		h := e.buf[6:10]
		h[0] = 0
		binary.LittleEndian.PutUint16(h[1:3], uint16(n))
		h[3] = 0
		return e.buf[6:], nil
	}
	e.Add("SCGI", "1")
	n := len(e.buf) - 10
	var num [20]byte
	prefix := strconv.AppendInt(num[:0], int64(n), 10)
	prefix = append(prefix, ':')
	if len(prefix) > 10 {
		return nil, fmt.Errorf("SCGI header block of %d bytes", n)
	}
	start := 10 - len(prefix)
	copy(e.buf[start:], prefix)
	e.buf = append(e.buf, ',')
	return e.buf[start:], nil
}

// Var is a decoded variable.
type Var struct{ Name, Value string }

// ReadSCGI decodes an SCGI header netstring (at most max bytes).
func ReadSCGI(br *bufio.Reader, max int) ([]Var, error) {
	lenStr, err := br.ReadString(':')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(lenStr[:len(lenStr)-1])
	if err != nil || n < 0 || n > max || len(lenStr) > 11 || (len(lenStr) > 2 && lenStr[0] == '0') {
		return nil, fmt.Errorf("scgi: bad netstring length %q", lenStr)
	}
	block := make([]byte, n+1)
	if _, err := io.ReadFull(br, block); err != nil {
		return nil, err
	}
	if block[n] != ',' {
		return nil, errors.New("scgi: netstring not ended by ','")
	}
	var vars []Var
	for b := block[:n]; len(b) > 0; {
		var parts [2]string
		for i := range parts {
			j := indexNUL(b)
			if j < 0 {
				return nil, errors.New("scgi: variable without NUL")
			}
			parts[i], b = string(b[:j]), b[j+1:]
		}
		vars = append(vars, Var{parts[0], parts[1]})
	}
	if len(vars) == 0 || vars[0].Name != "CONTENT_LENGTH" {
		return nil, errors.New("scgi: CONTENT_LENGTH is not the first variable")
	}
	return vars, nil
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// ReadUwsgi decodes a uwsgi packet header and its variables.
func ReadUwsgi(br *bufio.Reader) ([]Var, error) {
	var h [4]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	if h[0] != 0 || h[3] != 0 {
		return nil, fmt.Errorf("uwsgi: modifiers %d/%d", h[0], h[3])
	}
	block := make([]byte, binary.LittleEndian.Uint16(h[1:3]))
	if _, err := io.ReadFull(br, block); err != nil {
		return nil, err
	}
	var vars []Var
	for b := block; len(b) > 0; {
		var parts [2]string
		for i := range parts {
			if len(b) < 2 {
				return nil, errors.New("uwsgi: truncated size")
			}
			n := int(binary.LittleEndian.Uint16(b))
			if len(b) < 2+n {
				return nil, errors.New("uwsgi: truncated variable")
			}
			parts[i], b = string(b[2:2+n]), b[2+n:]
		}
		vars = append(vars, Var{parts[0], parts[1]})
	}
	return vars, nil
}
