package proxy

import (
	"strings"

	"github.com/golighty/golighty/core"
)

// remap applies proxy.header's map-host-request, map-host-response and
// map-urlpath to one request and its response, as lighttpd's
// http_header_remap_* functions: the first mapping used for the request
// decides the reverse mapping of the response.
type remap struct {
	o          *headerOpts
	httpHost   string // the request's Host ("" when none), for "-"
	fwdHost    string // the first request host mapping's value
	hasFwdHost bool
	fwdPath    *core.KV // the first request urlpath mapping
	httpsRemap bool     // https-remap, for a request that came over https
}

// active reports whether request URIs are remapped at all.
func (r *remap) active() bool { return r.o.urlPaths != nil || r.o.hostsRequest != nil }

// hostMatch finds the replacement of authority a (compared without regard
// to case); ok is false when nothing matches or the matching mapping keeps
// the authority ("" value).
func (r *remap) hostMatch(a string, req bool) (string, bool) {
	hosts := r.o.hostsResp
	if req {
		hosts = r.o.hostsRequest
	}
	for _, kv := range hosts {
		k := kv.Key
		if k == "-" {
			// "-" stands for the request's Host, or in responses for the
			// backend host the request was mapped to.
			switch {
			case req && r.httpHost != "":
				k = r.httpHost
			case !req && r.hasFwdHost:
				k = r.fwdHost
			default:
				continue
			}
		}
		if !strings.EqualFold(a, k) {
			continue
		}
		switch kv.Value {
		case "-":
			return r.httpHost, r.httpHost != ""
		case "":
			return "", false
		}
		if req && !r.hasFwdHost {
			r.fwdHost, r.hasFwdHost = kv.Value, true
		}
		return kv.Value, true
	}
	return "", false
}

// host remaps a Host value.
func (r *remap) host(a string, req bool) string {
	if m, ok := r.hostMatch(a, req); ok {
		return m
	}
	return a
}

// urlPath remaps the URL-path prefix of p: request paths by the mappings'
// keys, response paths back by their values (the request's own mapping
// first).
func (r *remap) urlPath(p string, req bool) string {
	out, _ := r.urlPathN(p, req)
	return out
}

// urlPathN is urlPath that also returns the length of the replacement
// prefix (0 when nothing matched).
func (r *remap) urlPathN(p string, req bool) (string, int) {
	if r.o.urlPaths == nil {
		return p, 0
	}
	if req {
		for i, kv := range r.o.urlPaths {
			if strings.HasPrefix(p, kv.Key) {
				if r.fwdPath == nil {
					r.fwdPath = &r.o.urlPaths[i]
				}
				return kv.Value + p[len(kv.Key):], len(kv.Value)
			}
		}
		return p, 0
	}
	if kv := r.fwdPath; kv != nil && strings.HasPrefix(p, kv.Value) {
		return kv.Key + p[len(kv.Value):], len(kv.Key)
	}
	for _, kv := range r.o.urlPaths {
		if strings.HasPrefix(p, kv.Value) {
			return kv.Key + p[len(kv.Value):], len(kv.Key)
		}
	}
	return p, 0
}

// uri remaps a URL-path or an absolute URI (scheme://authority/path): the
// authority by the host mappings (switching http and https with
// https-remap), then the path. An absolute URI without a path gets "/".
func (r *remap) uri(v string, req bool) string {
	if strings.HasPrefix(v, "/") {
		return r.urlPath(v, req)
	}
	colon := strings.IndexByte(v, ':')
	if colon < 0 || !strings.HasPrefix(v[colon:], "://") {
		return v
	}
	scheme := v[:colon]
	rest := v[colon+3:]
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		if rest == "" {
			return v
		}
		rest += "/"
		slash = len(rest) - 1
	} else if slash == 0 {
		return v
	}
	auth, path := rest[:slash], rest[slash:]
	if m, ok := r.hostMatch(auth, req); ok {
		if r.httpsRemap {
			switch {
			case req && scheme == "https":
				scheme = "http"
			case !req && scheme == "http":
				scheme = "https"
			}
		}
		auth = m
	}
	return scheme + "://" + auth + r.urlPath(path, req)
}

// setCookie remaps the Path and Domain attributes of a Set-Cookie value.
func (r *remap) setCookie(v string) string {
	i := 0
	for {
		semi := strings.IndexByte(v[i:], ';')
		if semi < 0 {
			break
		}
		s := i + semi + 1
		for s < len(v) && (v[s] == ' ' || v[s] == '\t') {
			s++
		}
		if s >= len(v) {
			break
		}
		i = s + 1
		if v[s] == '=' {
			continue
		}
		eq := strings.IndexByte(v[s+1:], '=')
		if eq < 0 {
			break
		}
		key := v[s : s+1+eq]
		e := s + 1 + eq + 1 // the value's first byte
		i = e
		switch {
		case len(key) == 4 && strings.EqualFold(key, "path"):
			if e < len(v) && v[e] == '"' {
				e++
			}
			if e >= len(v) || v[e] != '/' {
				continue
			}
			// The mapping applies to the rest of the value, as lighttpd.
			mapped, n := r.urlPathN(v[e:], false)
			v = v[:e] + mapped
			i = e + n
		case len(key) == 6 && strings.EqualFold(key, "domain"):
			if e < len(v) && v[e] == '"' {
				e++
			}
			if e < len(v) && v[e] == '.' {
				e++
			}
			if e >= len(v) || v[e] == ';' {
				continue
			}
			end := e
			for end < len(v) && v[end] != ';' && v[end] != ' ' && v[end] != '\t' && v[end] != '\r' {
				end++
			}
			mapped := r.host(v[e:end], false)
			v = v[:e] + mapped + v[end:]
			i = e + len(mapped)
		}
	}
	return v
}
