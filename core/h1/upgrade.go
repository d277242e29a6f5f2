package h1

import "encoding/base64"

// h2Preface is the start of the HTTP/2 connection preface as this parser
// sees it: a request line and an empty line ("SM\r\n\r\n" follows).
const h2Preface = "PRI * HTTP/2.0\r\n\r\n"

func (c *conn) wantsPrior() bool {
	return c.cfg.H2Prior && !c.info.TLS && c.srv.Handoff != nil
}

// handoffH2 passes the connection to Server.Handoff when it switches to
// HTTP/2 and reports whether it did (the connection is then gone).
func (c *conn) handoffH2() bool {
	if c.h2prior {
		c.srv.Handoff(c.rwc, &c.info, c.buf[:c.w], nil, nil)
		return true
	}
	settings, ok := c.h2cUpgrade()
	if !ok {
		return false
	}
	c.srv.requests.Add(1)
	c.req.Seq = c.seq
	c.srv.Handoff(c.rwc, &c.info, c.buf[c.r:c.w], &c.req, settings)
	return true
}

// h2cUpgrade applies lighttpd's h2_check_con_upgrade_h2c to the request
// just parsed: "Upgrade: h2c" with an HTTP2-Settings header (named in
// Connection) on an HTTP/1.1 request without a body switches a clear
// connection to HTTP/2 when H2Upgrade is on. Whenever Upgrade names h2c,
// the tokens Upgrade and HTTP2-Settings leave Connection; a request that
// stays on HTTP/1.1 also loses the Upgrade and HTTP2-Settings fields,
// while the upgraded one keeps them (lighttpd moves the headers to stream
// 1 before it removes them, so backends see both there).
func (c *conn) h2cUpgrade() ([]byte, bool) {
	r := &c.req
	if r.Status != 0 || !r.hasUpgrade {
		return nil, false
	}
	up := r.Header("Upgrade")
	connection := r.Header("Connection")
	if up == nil || connection == nil || r.Proto != HTTP11 || !hasToken(up, "h2c") {
		return nil, false
	}
	var settings []byte
	ok := false
	if hs := r.Header("HTTP2-Settings"); hs != nil {
		if r.ContentLength == 0 && !r.Chunked && c.cfg.H2Upgrade && !c.info.TLS &&
			c.srv.Handoff != nil && hasToken(connection, "HTTP2-Settings") {
			settings, ok = decodeSettings(hs)
		}
		r.removeToken("Connection", "HTTP2-Settings")
		if !ok {
			r.removeHeader("HTTP2-Settings")
		}
	}
	r.removeToken("Connection", "Upgrade")
	if !ok {
		r.removeHeader("Upgrade")
	}
	return settings, ok
}

// decodeSettings decodes an HTTP2-Settings value (base64url, padding
// optional) into a SETTINGS payload.
func decodeSettings(v []byte) ([]byte, bool) {
	for len(v) > 0 && v[len(v)-1] == '=' {
		v = v[:len(v)-1]
	}
	out := make([]byte, base64.RawURLEncoding.DecodedLen(len(v)))
	n, err := base64.RawURLEncoding.Decode(out, v)
	return out[:n], err == nil
}

func (r *Request) removeHeader(name string) {
	for i := range r.Headers {
		if eqFold(r.Headers[i].Name, name) {
			r.Headers = append(r.Headers[:i], r.Headers[i+1:]...)
			if r.hostIdx > i {
				r.hostIdx--
			}
			return
		}
	}
}

// removeToken drops tok from the list in header name (the header goes
// when nothing is left).
func (r *Request) removeToken(name, tok string) {
	for i := range r.Headers {
		if !eqFold(r.Headers[i].Name, name) {
			continue
		}
		v := r.Headers[i].Value
		start := len(r.scratch)
		for len(v) > 0 {
			j := 0
			for j < len(v) && v[j] != ',' {
				j++
			}
			item := trimSpace(v[:j])
			if len(item) > 0 && !eqFold(item, tok) {
				if len(r.scratch) > start {
					r.scratch = append(r.scratch, ", "...)
				}
				r.scratch = append(r.scratch, item...)
			}
			if j < len(v) {
				j++
			}
			v = v[j:]
		}
		if len(r.scratch) == start {
			r.removeHeader(name)
			return
		}
		r.Headers[i].Value = r.scratch[start:len(r.scratch):len(r.scratch)]
		return
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
