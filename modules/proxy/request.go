package proxy

import (
	"strconv"
	"strings"

	"github.com/golighty/golighty/core"
)

// header is one request header line being prepared for the backend.
type header struct{ name, value string }

// buildRequest writes the request head lighttpd's proxy_create_env sends:
// the current target (remapped), HTTP/1.1 (1.0 with force-http10 or
// without a Host), Host (the backend label with replace-http-host, else
// the client's, remapped), the client's headers in order without hop-by-hop
// ones, Content-Length for bodies whose length is known, Forwarded and
// X-Forwarded-*, and "Connection: close" (unless keep is set: golighty's
// keep-conn). bodyLen is the body length (-1: sent chunked).
func (h *handler) buildRequest(dst []byte, rc *core.Request, rm *remap, bodyLen int64, keep bool) []byte {
	o := &h.conf.header
	dst = append(dst, rc.Method...)
	dst = append(dst, ' ')
	target := rc.URI.Target
	if rm.active() {
		target = rm.uri(target, true)
	}
	dst = append(dst, target...)
	lineEnd := len(dst) + len(" HTTP/1.1") - 1 // the version's last digit
	if o.forceHTTP10 {
		dst = append(dst, " HTTP/1.0"...)
	} else {
		dst = append(dst, " HTTP/1.1"...)
	}
	switch {
	case h.conf.replaceHost && h.ch.Host.Conf.Label != "":
		dst = append(dst, "\r\nHost: "...)
		dst = append(dst, h.ch.Host.Conf.Label...)
	case rc.URI.Authority != "":
		dst = append(dst, "\r\nHost: "...)
		a := rc.URI.Authority
		if rm.active() {
			a = rm.host(a, true)
		}
		dst = append(dst, a...)
	default:
		dst[lineEnd] = '0' // no Host: an HTTP/1.0 request
	}

	// Room for a browser's headers and the ones added below without an
	// allocation (hs stays on the stack unless a request has more).
	var room [24]header
	hs := room[:0]
	for i := 0; i < rc.Header.Len(); i++ {
		hd := rc.Header.At(i)
		hs = append(hs, header{hd.Name, hd.Value})
	}
	if bodyLen > 0 || (bodyLen == 0 && rc.Method != "GET" && rc.Method != "HEAD") {
		if rc.Header.Get("Content-Length") == "" {
			hs = append(hs, header{"Content-Length", strconv.FormatInt(bodyLen, 10)})
		}
	} else if bodyLen < 0 {
		dst = append(dst, "\r\nTransfer-Encoding: chunked"...)
	}
	hs = h.forwarded(rc, hs)

	var conn, te, upgrade string
	http11 := !o.forceHTTP10 && rc.Proto == 11
	for _, hd := range hs {
		n := hd.name
		switch {
		case strings.EqualFold(n, "Host"), strings.EqualFold(n, "Proxy-Connection"),
			strings.EqualFold(n, "Proxy"), strings.EqualFold(n, "Set-Cookie"):
			continue
		case strings.EqualFold(n, "Expect") && rc.BodyLength != 0 && rc.Proto == 11:
			continue // consumed with the body, as lighttpd's 100-continue
		case strings.EqualFold(n, "TE"):
			if !http11 || !strings.EqualFold(hd.value, "trailers") {
				continue
			}
			te = hd.value
		case strings.EqualFold(n, "Upgrade"):
			if !http11 || !o.upgrade {
				continue
			}
			upgrade = hd.value
		case strings.EqualFold(n, "Connection"):
			conn = hd.value
			continue
		}
		if n == "" || hd.value == "" {
			continue
		}
		v := hd.value
		if rm.active() && (strings.EqualFold(n, "Destination") || strings.EqualFold(n, "Content-Location")) {
			v = rm.uri(v, true)
		}
		dst = append(dst, "\r\n"...)
		dst = append(dst, n...)
		dst = append(dst, ": "...)
		dst = append(dst, v...)
	}
	switch {
	case keep && upgrade == "":
		// golighty's keep-conn: a persistent HTTP/1.1 connection.
		if te != "" {
			dst = append(dst, "\r\nConnection: te"...)
		}
		dst = append(dst, "\r\n\r\n"...)
	case conn != "" && http11 && !strings.EqualFold(conn, "close"):
		dst = append(dst, "\r\nConnection: close"...)
		if te != "" {
			dst = append(dst, ", te"...)
		}
		if upgrade != "" {
			dst = append(dst, ", upgrade"...)
		}
		dst = append(dst, "\r\n\r\n"...)
	default:
		dst = append(dst, "\r\nConnection: close\r\n\r\n"...)
	}
	return dst
}

// forwarded adds proxy.forwarded's Forwarded header and the legacy
// X-Forwarded-For (appended), X-Host, X-Forwarded-Host and
// X-Forwarded-Proto (set), as lighttpd's proxy_set_Forwarded.
func (h *handler) forwarded(rc *core.Request, hs []header) []header {
	flags := h.conf.forwarded
	if flags != 0 {
		i := find(hs, "Forwarded")
		var b strings.Builder
		if i >= 0 {
			b.WriteString(hs[i].value)
			b.WriteString(", ")
		} else if x := find(hs, "X-Forwarded-For"); x >= 0 {
			// The X-Forwarded-For chain seeds Forwarded.
			for _, ip := range strings.FieldsFunc(hs[x].value, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' }) {
				if strings.IndexByte(ip, ':') >= 0 {
					b.WriteString(`for="[`)
					escapeQuoted(&b, ip)
					b.WriteString(`]", `)
				} else {
					b.WriteString(`for="`)
					escapeQuoted(&b, ip)
					b.WriteString(`", `)
				}
			}
		}
		semi := false
		sep := func() {
			if semi {
				b.WriteByte(';')
			}
			semi = true
		}
		if flags&fwdFor != 0 {
			sep()
			b.WriteString("for=")
			ip := rc.Conn.RemoteIP
			switch {
			case strings.IndexByte(ip, ':') >= 0:
				b.WriteString(`"[` + ip + `]"`)
			case ip != "":
				b.WriteString(ip)
			default:
				b.WriteByte('"')
				escapeQuoted(&b, rc.Conn.Socket)
				b.WriteByte('"')
			}
		}
		if flags&fwdBy != 0 {
			sep()
			b.WriteString(`by="`)
			switch {
			case strings.HasPrefix(rc.Conn.Socket, "/"):
				escapeQuoted(&b, rc.Conn.Socket)
			case strings.IndexByte(rc.Conn.LocalIP, ':') >= 0:
				b.WriteString("[" + rc.Conn.LocalIP + "]:" + strconv.Itoa(rc.Conn.LocalPort))
			default:
				b.WriteString(rc.Conn.LocalIP + ":" + strconv.Itoa(rc.Conn.LocalPort))
			}
			b.WriteByte('"')
		}
		if flags&fwdProto != 0 {
			sep()
			if rc.Conn.TLS {
				b.WriteString("proto=https")
			} else {
				b.WriteString("proto=http")
			}
		}
		if flags&fwdHost != 0 && rc.URI.Authority != "" {
			sep()
			b.WriteString(`host="`)
			escapeQuoted(&b, rc.URI.Authority)
			b.WriteByte('"')
		}
		if flags&fwdRemoteUser != 0 && rc.RemoteUser != "" {
			sep()
			b.WriteString(`remote_user="`)
			escapeQuoted(&b, rc.RemoteUser)
			b.WriteByte('"')
		}
		if i >= 0 {
			hs[i].value = b.String()
		} else {
			hs = append(hs, header{"Forwarded", b.String()})
		}
	}
	if i := find(hs, "X-Forwarded-For"); i >= 0 {
		hs[i].value += ", " + rc.Conn.RemoteIP
	} else {
		hs = append(hs, header{"X-Forwarded-For", rc.Conn.RemoteIP})
	}
	if a := rc.URI.Authority; a != "" {
		hs = set(hs, "X-Host", a)
		hs = set(hs, "X-Forwarded-Host", a)
	}
	return set(hs, "X-Forwarded-Proto", rc.URI.Scheme)
}

func find(hs []header, name string) int {
	for i := range hs {
		if strings.EqualFold(hs[i].name, name) {
			return i
		}
	}
	return -1
}

// set replaces the value of name's header, or appends the header.
func set(hs []header, name, value string) []header {
	if i := find(hs, name); i >= 0 {
		hs[i].value = value
		return hs
	}
	return append(hs, header{name, value})
}

// escapeQuoted writes s for a quoted-string, backslash-escaping '"', '\',
// DEL and control bytes but HT, as lighttpd.
func escapeQuoted(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '"' || c == '\\' || c == 0x7f || (c < 0x20 && c != '\t') {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
}
