package secdownload

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// GenerateURLCommand implements
//
//	golighty secdownload-url -secret S [-algorithm md5] -prefix /dl/
//	    [-path-segments N] [-hash-querystr] [-timestamp T] PATH[?QUERY]
//
// It prints the signed URL for PATH, percent-encoded so that lighttpd's URL
// decoding gives back exactly the signed path. QUERY is copied unchanged and
// must already be in the normalized form the server sees (it is only covered
// by the MAC with -hash-querystr). The exit status is 0 on success, 2 for
// usage errors and 1 when the secret file cannot be read.
func GenerateURLCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secdownload-url", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: golighty secdownload-url -secret S|-secret-file F [-algorithm md5|hmac-sha1|hmac-sha256] -prefix /dl/ [-path-segments N] [-hash-querystr] [-timestamp T] PATH[?QUERY]")
		fs.PrintDefaults()
	}
	secret := fs.String("secret", "", "shared secret (secdownload.secret)")
	secretFile := fs.String("secret-file", "", "read the secret from this file, without a trailing newline (keeps it out of the process list)")
	algName := fs.String("algorithm", "md5", "secdownload.algorithm: md5, hmac-sha1 or hmac-sha256")
	prefix := fs.String("prefix", "", "secdownload.uri-prefix, e.g. /dl/")
	segments := fs.Int("path-segments", 0, "secdownload.path-segments: sign only the first N segments of PATH (0 = all)")
	hashQuery := fs.Bool("hash-querystr", false, "secdownload.hash-querystr: include ?QUERY in the MAC")
	timestamp := fs.String("timestamp", "", "Unix time to sign, decimal or 0x-hex (default: now)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "secdownload-url: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() != 1 {
		return usageErr("exactly one PATH expected, got %d arguments", fs.NArg())
	}
	alg, err := ParseAlgorithm(*algName)
	if err != nil {
		return usageErr("%v", err)
	}
	if *secret != "" && *secretFile != "" {
		return usageErr("-secret and -secret-file are mutually exclusive")
	}
	key := []byte(*secret)
	if *secretFile != "" {
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			fmt.Fprintf(stderr, "secdownload-url: reading secret: %v\n", err)
			return 1
		}
		key = bytes.TrimRight(b, "\r\n")
	}
	if len(key) == 0 {
		return usageErr("a non-empty -secret or -secret-file is required")
	}
	if !strings.HasPrefix(*prefix, "/") {
		return usageErr("-prefix must start with /, got %q", *prefix)
	}
	if *segments < 0 || *segments > 65535 {
		return usageErr("-path-segments must be within 0..65535, got %d", *segments)
	}
	now := time.Now()
	if *timestamp != "" {
		t, err := strconv.ParseInt(*timestamp, 0, 64)
		if err != nil || t < 0 {
			return usageErr("invalid -timestamp %q: want a non-negative Unix time", *timestamp)
		}
		now = time.Unix(t, 0)
	}
	target := fs.Arg(0)
	relPath, query, hasQuery := strings.Cut(target, "?")
	if err := checkSignablePath(*prefix); err != nil {
		return usageErr("-prefix: %v", err)
	}
	if err := checkSignablePath(relPath); err != nil {
		return usageErr("PATH: %v", err)
	}

	c := Config{Secret: key, URIPrefix: *prefix, Algorithm: alg, PathSegments: *segments, HashQueryString: *hashQuery}
	signed := c.Sign(target, now)
	signedPath := signed
	if hasQuery {
		signedPath = signed[:len(signed)-len(query)-1]
	}
	out := escapePath(signedPath)
	if hasQuery {
		out += "?" + query
	}
	if _, err := fmt.Fprintln(stdout, out); err != nil {
		fmt.Fprintf(stderr, "secdownload-url: %v\n", err)
		return 1
	}
	return 0
}

// checkSignablePath rejects paths the server would never see in this form:
// lighttpd simplifies "." and ".." segments and "//" before mod_secdownload
// runs, and refuses control characters and some invalid UTF-8, so a MAC
// over them never matches.
func checkSignablePath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%q must start with /", p)
	}
	if strings.Contains(p, "//") {
		return fmt.Errorf("%q contains //, which the server collapses", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("%q contains a %q segment, which the server removes", p, seg)
		}
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return fmt.Errorf("%q contains control character %#02x, which the server rejects", p, p[i])
		}
	}
	if !utf8.ValidString(p) {
		return fmt.Errorf("%q is not valid UTF-8", p)
	}
	return nil
}

// escapePath percent-encodes every byte outside the set lighttpd keeps
// unencoded in a path. '%' is encoded too, so that the server's decoding
// returns exactly the signed bytes; '+' stays, since lighttpd does not
// decode it in paths.
func escapePath(p string) string {
	const upperhex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(p))
	for i := 0; i < len(p); i++ {
		c := p[i]
		if isPathSafe(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperhex[c>>4])
		b.WriteByte(upperhex[c&15])
	}
	return b.String()
}

func isPathSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0
}
