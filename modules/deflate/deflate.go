// Package deflate is lighttpd's mod_deflate (and the old mod_compress's
// compress.* keys): responses are compressed with gzip, deflate, brotli or
// zstd as the client's Accept-Encoding and deflate.allowed-encodings allow,
// at response start, with compressed copies of static files kept in
// deflate.cache-dir.
package deflate

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/golighty/golighty/core"
)

func init() {
	core.Register(core.ModuleInfo{Name: "mod_deflate", New: func() core.Module { return &Module{} }})
}

type conf struct {
	mimetypes  []string // Content-Type prefixes; nil: compress nothing
	allowed    []uint16 // allowed encodings in preference order; nil: none
	maxSize    int64    // KiB, 0: no limit
	minSize    int64    // bytes
	level      int      // deflate.compression-level, -1 unset
	maxLoadavg float64
	cacheDir   string
	params     *params
}

// Module is one loaded mod_deflate.
type Module struct {
	table *core.Table[conf]
}

var _ core.ResponseStartHook = (*Module)(nil)

// Setup binds the deflate.* keys and the compress.* keys of mod_compress,
// which lighttpd maps onto their deflate twins with a DEPRECATED line.
func (m *Module) Setup(sc *core.SetupContext) error {
	mimetypes := func(v core.Value) (func(*conf), error) {
		list := normalizeMimetypes(v.List())
		return func(c *conf) { c.mimetypes = list }, nil
	}
	allowed := func(v core.Value) (func(*conf), error) {
		flags := allowedFlags(v.List())
		return func(c *conf) { c.allowed = flags }, nil
	}
	maxSize := func(v core.Value) (func(*conf), error) {
		n := v.Int()
		return func(c *conf) { c.maxSize = n }, nil
	}
	maxLoad := func(v core.Value) (func(*conf), error) {
		f := strtod(v.String())
		return func(c *conf) { c.maxLoadavg = f }, nil
	}
	cacheDir := func(v core.Value) (func(*conf), error) {
		dir, err := prepareCacheDir(v.Key, v.String(), sc.Preflight())
		if err != nil {
			return nil, err
		}
		return func(c *conf) { c.cacheDir = dir }, nil
	}
	deprecated := func(name, twin string, bind func(core.Value) (func(*conf), error)) func(core.Value) (func(*conf), error) {
		return func(v core.Value) (func(*conf), error) {
			sc.Warn(v.Pos, "DEPRECATED: %s replaced with %s", name, twin)
			return bind(v)
		}
	}
	noop := func(core.Value) (func(*conf), error) { return nil, nil }
	var err error
	m.table, err = core.Bind(sc, conf{maxSize: 128 * 1024, minSize: 256, level: -1}, []core.Key[conf]{
		{Name: "deflate.mimetypes", Type: core.TypeList, Bind: mimetypes},
		{Name: "deflate.allowed-encodings", Type: core.TypeList, Bind: allowed},
		{Name: "deflate.max-compress-size", Type: core.TypeInt, Bind: maxSize},
		{Name: "deflate.min-compress-size", Type: core.TypeShort, Bind: func(v core.Value) (func(*conf), error) {
			n := v.Int()
			return func(c *conf) { c.minSize = n }, nil
		}},
		{Name: "deflate.compression-level", Type: core.TypeShort, Bind: func(v core.Value) (func(*conf), error) {
			l := int(int16(uint16(v.Int())))
			if (l < 1 || l > 9) && l != -1 {
				return nil, fmt.Errorf("compression-level must be between 1 and 9: %d", uint16(v.Int()))
			}
			return func(c *conf) { c.level = l }, nil
		}},
		// Accepted and, as in lighttpd 1.4.69, without effect: responses
		// are compressed whole at response start.
		{Name: "deflate.output-buffer-size", Type: core.TypeShort, Bind: noop},
		{Name: "deflate.work-block-size", Type: core.TypeShort, Bind: noop},
		{Name: "deflate.max-loadavg", Type: core.TypeString, Bind: maxLoad},
		{Name: "deflate.cache-dir", Type: core.TypeString, Bind: cacheDir},
		{Name: "deflate.params", Type: core.TypeKVAny, Bind: func(v core.Value) (func(*conf), error) {
			p := parseParams(v, func(format string, args ...any) { sc.Warn(v.Pos, format, args...) })
			return func(c *conf) { c.params = p }, nil
		}},
		{Name: "compress.filetype", Type: core.TypeList, Bind: deprecated("compress.filetype", "deflate.mimetypes", mimetypes)},
		{Name: "compress.allowed-encodings", Type: core.TypeList, Bind: deprecated("compress.allowed-encodings", "deflate.allowed-encodings", allowed)},
		{Name: "compress.cache-dir", Type: core.TypeString, Bind: deprecated("compress.cache-dir", "deflate.cache-dir", cacheDir)},
		{Name: "compress.max-filesize", Type: core.TypeInt, Bind: deprecated("compress.max-filesize", "deflate.max-compress-size", maxSize)},
		{Name: "compress.max-loadavg", Type: core.TypeString, Bind: deprecated("compress.max-loadavg", "deflate.max-loadavg", maxLoad)},
	})
	return err
}

// normalizeMimetypes applies lighttpd's set-up rules: a trailing '*' is
// dropped (types match as prefixes anyway), "application/javascript" is
// rewritten to "text/javascript", and an empty list compresses nothing.
func normalizeMimetypes(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	out := make([]string, len(list))
	for i, t := range list {
		if len(t) > 2 && t[len(t)-1] == '*' {
			t = t[:len(t)-1]
		}
		if t == "application/javascript" {
			t = "text/javascript"
		}
		out[i] = t
	}
	return out
}

// strtod reads the leading decimal number of s as C's strtod does (0 when
// there is none).
func strtod(s string) float64 {
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	end := 0
	for i := 1; i <= len(s); i++ {
		if _, err := strconv.ParseFloat(s[:i], 64); err == nil {
			end = i
		}
	}
	f, _ := strconv.ParseFloat(s[:end], 64)
	return f
}

// prepareCacheDir strips a trailing slash and creates the directory (and
// its parents, mode 0700) when it does not exist, as lighttpd does at
// start-up; a -tt check creates nothing.
func prepareCacheDir(key, dir string, preflight bool) (string, error) {
	if strings.TrimSpace(dir) == "" {
		return "", nil
	}
	dir = strings.TrimSuffix(dir, "/")
	if preflight {
		return dir, nil
	}
	if _, err := os.Stat(dir); err != nil {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("can't stat %s %s: %v", key, dir, err)
		}
	}
	return dir, nil
}

// ResponseStart decides whether to compress, in lighttpd 1.4.69's order of
// checks, and sets up the compression (or the 304/412 for a compressed
// variant's ETag, or a copy from the cache-dir).
func (m *Module) ResponseStart(rc *core.Request) core.Result {
	if rc.Method == "HEAD" {
		return core.GoOn
	}
	r := &rc.Resp
	h := &r.Header
	if h.Has("Transfer-Encoding") || h.Has("Content-Encoding") {
		return core.GoOn
	}
	switch r.Status {
	case 100, 101, 204, 205, 304:
		return core.GoOn
	case 206:
		// A backend's partial content: compressing the part alone would
		// not be the compressed representation's range (lighttpd 1.4.69
		// does it; golighty does not).
		return core.GoOn
	}
	c := m.table.Resolve(rc)
	if c.mimetypes == nil {
		return core.GoOn
	}
	n, known := r.BodyLen()
	if !known && !r.Streaming() {
		return core.GoOn // no body
	}
	if known && (n <= c.minSize || (c.maxSize != 0 && n > c.maxSize<<10)) {
		return core.GoOn
	}
	var accept uint16
	seen := false
	for i := 0; i < rc.Header.Len(); i++ {
		if f := rc.Header.At(i); strings.EqualFold(f.Name, "Accept-Encoding") {
			accept |= parseAcceptEncoding(f.Value)
			seen = true
		}
	}
	if !seen {
		return core.GoOn
	}
	cd, label := choose(accept, c.allowed)
	if cd == codecNone {
		return core.GoOn
	}
	if ct := h.Get("Content-Type"); ct != "" {
		if !matchPrefix(c.mimetypes, ct) {
			return core.GoOn
		}
	} else if c.mimetypes[0] != "" {
		return core.GoOn
	}

	hadVary := false
	if v := h.Get("Vary"); v != "" {
		hadVary = true
		if !containsToken(v, "Accept-Encoding") {
			h.Set("Vary", v+",Accept-Encoding")
		}
	} else {
		h.Set("Vary", "Accept-Encoding")
	}
	etag := h.Get("ETag")
	if etag != "" && r.Status < 300 {
		if inm := rc.Header.Get("If-None-Match"); inm != "" && compressedETagMatches(inm, etag, label) {
			// The client holds this compressed variant: lighttpd answers
			// here, with an empty body and no Content-Encoding.
			switch rc.Method {
			case "GET", "QUERY":
				h.Set("ETag", variantETag(etag, label))
				r.Status = 304
			default:
				r.Status = 412
			}
			r.SetBody(nil)
			h.Del("Content-Length")
			return core.GoOn
		}
	}
	if c.maxLoadavg > 0 && c.maxLoadavg < currentLoad() {
		return core.GoOn
	}
	if etag != "" {
		etag = variantETag(etag, label)
		h.Set("ETag", etag)
	}
	h.Set("Content-Encoding", label)

	s := c.settings(cd)
	s.stream = r.Streaming()
	done := func(in, out int64) { noteRatio(rc, in, out) }
	if c.cacheDir != "" && !hadVary && len(etag) > 2 && !r.Streaming() && cacheable(h.Get("Cache-Control")) {
		if _, size, src, ok := r.WholeFile(); ok && size == n {
			if m.fromCache(rc, c.cacheDir, etag, s, src, size) {
				return core.GoOn
			}
		}
	}
	r.Filter(func(dst io.Writer) core.BodyFilter { return newFilter(s, dst, done) })
	return core.GoOn
}

// matchPrefix is array_match_value_prefix: the first type that begins ct.
func matchPrefix(types []string, ct string) bool {
	for _, t := range types {
		if strings.HasPrefix(ct, t) {
			return true
		}
	}
	return false
}

// compressedETagMatches is lighttpd's (deliberately loose) check of
// If-None-Match against the compressed variant's ETag: the header value
// must begin with the ETag minus its closing quote, then '-' and the label;
// only the first list element can match, and what follows is not checked.
func compressedETagMatches(inm, etag, label string) bool {
	n := len(etag)
	if len(inm) < n || inm[:n-1] != etag[:n-1] || inm[n-1] != '-' {
		return false
	}
	return strings.HasPrefix(inm[n:], label)
}

// variantETag is the compressed variant's ETag: the last byte (the closing
// quote) becomes "-label" followed by a quote.
func variantETag(etag, label string) string {
	return etag[:len(etag)-1] + "-" + label + "\""
}

// cacheable: no Cache-Control private or no-store.
func cacheable(cc string) bool {
	return cc == "" || (!containsToken(cc, "private") && !containsToken(cc, "no-store"))
}

// noteRatio stores the compression ratio (percent) in the request
// environment for the access log's %{ratio}e, and logs, as lighttpd does,
// a response that grew.
func noteRatio(rc *core.Request, in, out int64) {
	if in == 0 {
		return
	}
	rc.Env.Set("ratio", strconv.FormatInt(out*100/in, 10))
	if in < out {
		rc.Logf("uri %s in=%d smaller than out=%d", rc.Target, in, out)
	}
}

// cacheName is the cache file of a compressed static file: the cache-dir,
// the physical path, '-' and the compressed ETag without its quotes.
func cacheName(dir, phys, etag string) string {
	if !strings.HasPrefix(phys, "/") {
		phys = "/" + phys
	}
	return dir + phys + "-" + etag[1:len(etag)-1]
}

// fromCache serves the compressed copy of a static file from the
// cache-dir, compressing it there first when it is missing. The name holds
// the ETag, so an edited file gets a new copy; old copies stay, as with
// lighttpd. It reports false when the response should be compressed as it
// is sent instead (no cache file could be written).
func (m *Module) fromCache(rc *core.Request, dir, etag string, s settings, src io.ReaderAt, size int64) bool {
	fn := cacheName(dir, rc.Phys.Path, etag)
	if err := rc.SetBodyFile(fn); err == nil {
		n, _ := rc.Resp.BodyLen()
		noteRatio(rc, size, n)
		return true
	}
	if err := os.MkdirAll(filepath.Dir(fn), 0o700); err != nil {
		return false
	}
	tmp, err := os.CreateTemp(filepath.Dir(fn), filepath.Base(fn)+".*")
	if err != nil {
		return false
	}
	var in, out int64
	f := newFilter(s, tmp, func(i, o int64) { in, out = i, o })
	err = copyAt(f, src, size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), fn)
	}
	if err == nil {
		err = rc.SetBodyFile(fn)
	}
	if err != nil {
		os.Remove(tmp.Name())
		rc.Logf("deflate.cache-dir: %s: %v", fn, err)
		return false
	}
	noteRatio(rc, in, out)
	return true
}

// copyAt writes n bytes of src to dst.
func copyAt(dst io.Writer, src io.ReaderAt, n int64) error {
	_, err := io.Copy(dst, io.NewSectionReader(src, 0, n))
	return err
}
