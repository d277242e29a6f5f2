package core

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// handoffPath turns a handoff header's path into a clean absolute path, or
// returns the status that refuses it: percent-decoded, valid UTF-8, dot
// segments resolved, absolute, and below an x-sendfile-docroot when any is
// configured (behaviors.md §7.5).
func (rc *Request) handoffPath(raw, header string, o *BackendOpts) (string, int) {
	decoded := decodePath(raw)
	if !utf8.ValidString(decoded) {
		rc.Logf("%s invalid UTF-8 after url-decode: %s", header, decoded)
		return "", 502
	}
	if len(decoded) == 0 || decoded[0] != '/' {
		// Stricter than lighttpd, which would resolve a relative path
		// against its working directory: refused with the status of a
		// refused handoff (lighttpd's, when x-sendfile-docroot is set).
		rc.Logf("%s (%s) is not an absolute path", header, decoded)
		return "", 403
	}
	p := simplifyPath(decoded)
	if rc.Conf.ForceLowercase {
		p = strings.ToLower(p)
	}
	if len(o.XSendfileDocroots) > 0 {
		ok := false
		for _, root := range o.XSendfileDocroots {
			if strings.HasPrefix(p, root) || (rc.Conf.ForceLowercase && len(p) >= len(root) && strings.EqualFold(p[:len(root)], root)) {
				ok = true
				break
			}
		}
		if !ok {
			rc.Logf("%s (%s) not under configured x-sendfile-docroot(s)", header, p)
			return "", 403
		}
	}
	return p, 0
}

// xsendfile serves the file an X-Sendfile (X-LIGHTTPD-send-file,
// X-send-response-body) header names, through the one file sender.
func (rc *Request) xsendfile(raw string, o *BackendOpts) {
	resp := &rc.Resp
	status := resp.Status
	resp.Header.Del("Content-Length")
	path, bad := rc.handoffPath(raw, "X-Sendfile", o)
	got := bad
	if bad == 0 {
		got = rc.sendFile(path, true)
		if got == 404 {
			rc.Logf("not a regular file: %s -> %s", rc.URI.Path, path)
		}
	}
	switch {
	case got >= 400 && status < 300:
		resp.Status = got
		resp.Dynamic = false // the error document applies
		resp.Header.Reset()
	case status != 0 && status != 200:
		resp.Status = status
	}
}

// sendfile2 serves "X-Sendfile2: PATH START-[END][, ...]": the ranges of
// the files, concatenated, without Content-Type, ETag or Last-Modified.
func (rc *Request) sendfile2(spec string, o *BackendOpts) {
	resp := &rc.Resp
	status := resp.Status
	resp.Header.Del("Content-Length")
	resp.dropFile()
	var total int64
	fail := func(st int) {
		resp.dropFile()
		resp.kind = bodyNone
		resp.Status = st
		resp.Dynamic = false
		resp.Header.Reset()
	}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimLeft(item, " ")
		if item == "" {
			continue
		}
		sp := strings.IndexByte(item, ' ')
		if sp < 0 {
			rc.Logf("Couldn't find range after filename: %s", item)
			fail(502)
			return
		}
		path, bad := rc.handoffPath(item[:sp], "X-Sendfile2", o)
		if bad != 0 {
			fail(bad)
			return
		}
		h, err := rc.Snap.stat.Open(path)
		if err != nil {
			rc.Logf("send-file error: couldn't get stat_cache entry for X-Sendfile2: %s", path)
			fail(404)
			return
		}
		resp.file.handles = append(resp.file.handles, h)
		e := h.Entry
		if !e.IsRegular() {
			rc.Logf("send-file error: wrong filetype for X-Sendfile2: %s", path)
			fail(502)
			return
		}
		start, end, ok := parseSendfile2Range(strings.TrimRight(item[sp+1:], " "), e.Size)
		if !ok {
			rc.Logf("Couldn't decode range after filename: %s", item)
			fail(502)
			return
		}
		// lighttpd clips the range to the file (nothing when it starts
		// past the end) rather than refusing it.
		n := min(end-start+1, e.Size-start)
		if n <= 0 {
			continue
		}
		part := filePart{fd: h.FD(), off: start, n: n}
		if data, ok := h.Content(); ok && data != nil && end < int64(len(data)) {
			part.data = data
		}
		resp.file.parts = append(resp.file.parts, part)
		total += n
	}
	resp.kind = bodyFile
	resp.rangePending = true // the concatenation is the body Range applies to
	if status == 0 {
		status = 200
	}
	resp.Status = status
}

// parseSendfile2Range reads "START-[END]" (END defaults to size-1). A range
// past the end of the file is not refused here (see sendfile2).
func parseSendfile2Range(r string, size int64) (int64, int64, bool) {
	a, b, ok := strings.Cut(r, "-")
	if !ok {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	end := size - 1
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < 0 {
			return 0, 0, false
		}
	}
	if end-start+1 < 0 {
		return 0, 0, false
	}
	return start, end, true
}
