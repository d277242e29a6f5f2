package webdav

import (
	"errors"
	"strings"

	"github.com/golighty/golighty/core"
	"golang.org/x/sys/unix"
)

// proppatch is the PROPPATCH method: all its updates in one transaction,
// 204 when all apply, else a 207 listing the refused properties (the others
// fail as a dependency, RFC 4918 9.2, which lighttpd leaves implied).
func (r *req) proppatch() core.Result {
	rc := r.rc
	if r.c.db == nil {
		// lighttpd sets Allow, but its error document then drops it.
		return fail(rc, 405)
	}
	body, err := r.readBody()
	if err != nil {
		return fail(rc, 400)
	}
	if len(body) == 0 {
		return fail(rc, 400)
	}
	if !r.xmlBodyType() {
		return fail(rc, 415)
	}
	st, err := lstat(r.path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fail(rc, 404)
		}
		return fail(rc, 403)
	}
	if !r.preconditions(st) {
		return fail(rc, 412)
	}
	switch {
	case isDir(st):
		if !strings.HasSuffix(r.path, "/") {
			rc.Resp.Header.Set("Content-Location", rc.DirLocation())
			r.path += "/"
			r.rel += "/"
		}
	case strings.HasSuffix(r.path, "/"):
		return fail(rc, 403)
	}
	doc, err := parseXML(body)
	if err != nil {
		return fail(rc, 400)
	}
	if !doc.root.is("propertyupdate") {
		return fail(rc, 422)
	}
	patches, refused := propertyUpdate(doc)
	if refused != nil {
		return r.multistatusResponse(refused)
	}
	if err := r.c.db.applyPatches(r.rel, patches); err != nil {
		rc.Logf("webdav: PROPPATCH %s: %v", r.rel, err)
		return fail(rc, 500)
	}
	if strings.HasPrefix(rc.Header.Get("User-Agent"), "Microsoft-WebDAV-MiniRedir/") {
		// That client takes both 204 and an empty 200 for 507. lighttpd
		// names the file's path on disk in this answer; golighty its URL.
		return r.multistatusResponse(appendResponseStatus(nil, r.rel, 200))
	}
	return done(rc, 204)
}

// propertyUpdate reads a <propertyupdate> body: the updates to make, and
// the propstat elements of refused (protected) properties. As in lighttpd,
// only the first property of each <prop> counts, and a set without a value
// is skipped.
func propertyUpdate(doc *xmlDoc) (patches []patch, refused []byte) {
	for _, cmd := range doc.root.children {
		set := cmd.is("set")
		if !set && !cmd.is("remove") {
			continue
		}
		for _, props := range cmd.children {
			if !props.is("prop") {
				continue
			}
			var p *node
			for _, c := range props.children {
				if !c.isBlank() {
					p = c
					break
				}
			}
			if p == nil || p.kind != elementNode {
				continue
			}
			if p.hasNS && p.ns == "DAV:" && protectedProps[p.name] {
				refused = append(refused, "<D:propstat>\n<D:prop><DAV:"...)
				refused = append(refused, p.name...)
				refused = append(refused, "/></D:prop>\n<D:error><DAV:cannot-modify-protected-property/></D:error>\n"...)
				refused = appendStatus(refused, 403)
				refused = append(refused, "</D:propstat>\n"...)
				continue
			}
			if !set {
				patches = append(patches, patch{name: p.name, ns: p.ns})
				continue
			}
			if len(p.children) > 0 {
				v, _ := doc.textValue(p)
				patches = append(patches, patch{set: true, name: p.name, ns: p.ns, value: v})
			}
		}
	}
	return patches, refused
}

// multistatusResponse is a 207 with one <D:response> for the request's
// resource holding the given propstats.
func (r *req) multistatusResponse(propstats []byte) core.Result {
	b := append([]byte(xmlDecl), multiOpen...)
	b = append(b, "<D:response>\n"...)
	b = appendHref(b, r.rel)
	b = append(b, propstats...)
	b = append(b, "</D:response>\n"...)
	b = append(b, multiClose...)
	return xmlBody(r.rc, r.c, 207, b)
}
