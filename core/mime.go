package core

import "github.com/golighty/golighty/core/httpfile"

// MimeTypes is a compiled mimetype.assign (lookup rules in core/httpfile).
type MimeTypes = httpfile.MimeTypes

// NewMimeTypes compiles mimetype.assign pairs in config order.
func NewMimeTypes(kv []KV) *MimeTypes {
	pairs := make([]httpfile.MimePair, len(kv))
	for i, p := range kv {
		pairs[i] = httpfile.MimePair{Suffix: p.Key, Type: p.Value}
	}
	return httpfile.CompileMimeTypes(pairs)
}
