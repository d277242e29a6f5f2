package core

import (
	"errors"
	"io/fs"
	"time"

	"github.com/golighty/golighty/core/httpfile"
	"github.com/golighty/golighty/core/statcache"
)

// SendFileOpts tunes the file sender for callers other than mod_staticfile.
type SendFileOpts struct {
	// Status replaces 200 (an error handler keeps the original status).
	Status int
}

// SendFile answers the request with the file at path: lighttpd's one file
// sender for static files, X-Sendfile and mod_secdownload. It sets
// Content-Type, ETag, Last-Modified and Content-Length in lighttpd's order,
// evaluates If-None-Match / If-Modified-Since (304, 412) and Range (206,
// multipart/byteranges, 416), and leaves the body for sendfile (or memory
// for small cached files). The returned Result is Finished.
func (rc *Request) SendFile(path string) Result {
	h, err := rc.Snap.stat.Open(path)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return rc.Status(404)
		case errors.Is(err, fs.ErrPermission):
			return rc.Status(403)
		}
		rc.Logf("opening %s: %v", path, err)
		return rc.Status(500)
	}
	e := h.Entry
	if !e.IsRegular() {
		h.Release()
		return rc.Status(403)
	}
	conf := &rc.Conf
	var file httpfile.File
	file.Size = e.Size
	file.MtimeSec = e.MtimeSec
	file.ContentType, file.TypeMatched = rc.contentType(e)
	if file.TypeMatched {
		if conf.StaticETags {
			file.ETag = e.ETag(httpfile.ETagFlagsFromConfig(true, conf.ETagInode, conf.ETagMtime, conf.ETagSize))
		}
		file.LastModified = e.LastModified
	}
	req := httpfile.Request{
		Method:          rc.Method,
		RangeAllowed:    conf.RangeRequests && (rc.Proto == 11 || rc.Snap.Core.Server.HTTP10Range),
		IfNoneMatch:     rc.Header.Get("If-None-Match"),
		IfModifiedSince: rc.Header.Get("If-Modified-Since"),
		Range:           rc.Header.Get("Range"),
		IfRange:         rc.Header.Get("If-Range"),
	}
	p := &rc.Resp.plan
	httpfile.Decide(p, &req, &file, time.Now().Unix())

	resp := &rc.Resp
	switch p.Status {
	case 412, 416:
		h.Release()
		return rc.Status(p.Status)
	}
	resp.Status = p.Status
	resp.Header.Set("Content-Type", p.ContentType)
	if p.ETag != "" {
		resp.Header.Set("ETag", p.ETag)
	}
	if p.LastModified != "" {
		resp.Header.Set("Last-Modified", p.LastModified)
	}
	if p.Status == 304 {
		h.Release()
		resp.SetBody(nil)
		return Finished
	}
	resp.setContentLength(p.ContentLength)
	resp.acceptRanges = p.AcceptRanges
	resp.dropFile()
	resp.kind = bodyFile
	resp.file = fileBody{f: h.File(), size: e.Size, closer: h.Release}
	if data, ok := h.Content(); ok {
		resp.file.data = data
		if data == nil {
			resp.file.data = []byte{}
		}
	}
	switch {
	case p.Status == 206 && p.Multipart():
		for i, r := range p.Ranges {
			resp.file.parts = append(resp.file.parts, filePart{off: r.Start, n: r.Len(), head: p.AppendPartHeader(nil, i)})
		}
		resp.file.multipart = true
	case p.Status == 206:
		r := p.Ranges[0]
		resp.file.parts = append(resp.file.parts, filePart{off: r.Start, n: r.Len()})
		resp.contentRange = string(p.AppendContentRange(nil))
	default:
		resp.file.parts = append(resp.file.parts, filePart{off: 0, n: e.Size})
	}
	return Finished
}

// contentType is mimetype.assign (or the file's xattr with
// mimetype.use-xattr) for the file.
func (rc *Request) contentType(e *statcache.Entry) (string, bool) {
	if rc.Conf.MimeUseXattr {
		if ct, ok := httpfile.XattrMimeType(e.Path, rc.Snap.Core.Server.MimeXattrName); ok {
			return ct, true
		}
	}
	mime := rc.Conf.Mime
	return mime.Lookup(e.Path)
}
