// Package httpfile holds the pure semantics of lighttpd 1.4.69's one file
// sender (http_response_send_file and the Range/conditional code it feeds):
// ETag generation, HTTP dates, If-None-Match / If-Modified-Since evaluation,
// Range parsing with lighttpd's coalescing and multipart/byteranges layout,
// and mimetype.assign lookup.
//
// Everything here is a pure function or an immutable compiled value, safe for
// concurrent use, and allocation-free on the hot path when the caller passes
// buffers with spare capacity. The package does no I/O except the optional
// xattr mimetype lookup.
package httpfile
