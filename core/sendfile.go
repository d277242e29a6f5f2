package core

import (
	"errors"
	"io/fs"
	"time"

	"github.com/golighty/golighty/core/httpfile"
	"github.com/golighty/golighty/core/statcache"
)

// SendFile answers the request with the file at path: lighttpd's one file
// sender for static files, X-Sendfile and mod_secdownload. It sets
// Content-Type, ETag, Last-Modified and Content-Length in lighttpd's order,
// evaluates If-None-Match / If-Modified-Since (304, 412) and Range (206,
// multipart/byteranges, 416), and leaves the body for sendfile (or memory
// for small cached files). The returned Result is Finished.
func (rc *Request) SendFile(path string) Result {
	rc.sendFile(path, false)
	return Finished
}

// sendFile is SendFile; with keep (X-Sendfile) a Content-Type, ETag or
// Last-Modified the backend sent stays. It returns the status it set.
func (rc *Request) sendFile(path string, keep bool) int {
	h, err := rc.Snap.stat.OpenStat(path, rc.lastStat)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			rc.Resp.Status = 404
		case errors.Is(err, fs.ErrPermission):
			rc.Resp.Status = 403
		default:
			rc.Logf("opening %s: %v", path, err)
			rc.Resp.Status = 500
		}
		return rc.Resp.Status
	}
	e := h.Entry
	if !e.IsRegular() {
		h.Release()
		rc.Resp.Status = 403
		return 403
	}
	if !rc.Conf.FollowSymlink {
		if yes, _ := e.ContainsSymlink(); yes {
			h.Release()
			rc.Resp.Status = 403
			return 403
		}
	}
	conf := &rc.Conf
	resp := &rc.Resp
	var file httpfile.File
	file.Size = e.Size
	file.MtimeSec = e.MtimeSec
	if ct := resp.Header.Get("Content-Type"); keep && ct != "" {
		// A type the backend chose counts as matched: lighttpd keeps the
		// caching headers then, whatever the type is.
		file.ContentType, file.TypeMatched = ct, true
	} else {
		file.ContentType, file.TypeMatched = rc.contentType(e)
	}
	if file.TypeMatched {
		if conf.StaticETags {
			file.ETag = e.ETag(httpfile.ETagFlagsFromConfig(true, conf.ETagInode, conf.ETagMtime, conf.ETagSize))
		}
		file.LastModified = e.LastModified
		if keep {
			if v := resp.Header.Get("ETag"); v != "" {
				file.ETag = v
			}
			if v := resp.Header.Get("Last-Modified"); v != "" {
				file.LastModified = v
			}
		}
	}
	req := httpfile.Request{
		Method:          rc.Method,
		RangeAllowed:    conf.RangeRequests && (rc.Proto >= 11 || rc.Snap.Core.Server.HTTP10Range),
		IfNoneMatch:     rc.Header.Get("If-None-Match"),
		IfModifiedSince: rc.Header.Get("If-Modified-Since"),
		Range:           rc.Header.Get("Range"),
		IfRange:         rc.Header.Get("If-Range"),
	}
	p := &resp.plan
	var now int64 // read only for an RFC 850 If-Modified-Since
	if req.IfModifiedSince != "" {
		now = time.Now().Unix()
	}
	httpfile.Decide(p, &req, &file, now)

	switch p.Status {
	case 412:
		h.Release()
		resp.Status = p.Status
		resp.Dynamic = false // lighttpd's error document replaces the body
		return p.Status
	}
	// Range (206, 416) is applied after the response_start hooks, as in
	// lighttpd (rangeOnParts): until then the response is the whole file.
	status, ctype := p.Status, p.ContentType
	if status == 206 || status == 416 {
		status = 200
		if p.Multipart() {
			ctype = p.PartType
		}
	}
	resp.Status = status
	resp.Header.Set("Content-Type", ctype)
	if p.ETag != "" {
		resp.Header.Set("ETag", p.ETag)
	}
	if p.LastModified != "" {
		resp.Header.Set("Last-Modified", p.LastModified)
	}
	if status == 304 {
		h.Release()
		resp.SetBody(nil)
		return 304
	}
	resp.setContentLength(e.Size)
	resp.acceptRanges = p.AcceptRanges
	resp.dropFile()
	resp.kind = bodyFile
	resp.file.handles = append(resp.file.handles, h)
	part := filePart{fd: h.FD(), off: 0, n: e.Size}
	if data, ok := h.Content(); ok {
		part.data = data
		if data == nil {
			part.data = []byte{}
		}
	}
	resp.file.parts = append(resp.file.parts, part)
	resp.rangePending = p.Status == 206 || p.Status == 416
	return status
}

// contentType is mimetype.assign (or the file's xattr with
// mimetype.use-xattr) for the file.
func (rc *Request) contentType(e *statcache.Entry) (string, bool) {
	if rc.Conf.MimeUseXattr {
		return httpfile.ContentTypeFor(rc.Conf.Mime, e.Path, rc.Snap.Core.Server.MimeXattrName)
	}
	return rc.Conf.Mime.Lookup(e.Path)
}
