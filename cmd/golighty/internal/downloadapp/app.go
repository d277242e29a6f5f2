// Package downloadapp is the small download application of golighty's
// bundled configuration: a FastCGI program, standing in for the PHP script a
// lighttpd site would run, that authorizes a download and hands the file to
// the server with X-Sendfile or X-send-response-body, so the bytes never
// pass through the application. It is started by the server itself
// (fastcgi.server "bin-path" => env.GOLIGHTY_BIN + " download-app") and
// reads its settings from the environment the config gives it:
//
//	DOWNLOAD_ROOT        directory of the files it hands out
//	DOWNLOAD_SECRET      key of the download tickets it issues and checks
//	SECDOWNLOAD_SECRET   secdownload.secret, to print a mod_secdownload link
//	SECDOWNLOAD_PREFIX   secdownload.uri-prefix (default /secure/)
//	SECDOWNLOAD_ALGORITHM secdownload.algorithm (default hmac-sha256)
package downloadapp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/http/fcgi"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/golighty/golighty/modules/secdownload"
)

// ticketLife is how long a download link of the index page stays valid.
const ticketLife = time.Hour

// App serves the index page and the download handoffs.
type App struct {
	Root       string // DOWNLOAD_ROOT
	Secret     []byte // DOWNLOAD_SECRET
	SecDL      secdownload.Config
	Now        func() time.Time
	ScriptName string // URL prefix of the app, "/app"
}

// FromEnv builds the app from its environment.
func FromEnv() (*App, error) {
	a := &App{
		Root:       os.Getenv("DOWNLOAD_ROOT"),
		Secret:     []byte(os.Getenv("DOWNLOAD_SECRET")),
		Now:        time.Now,
		ScriptName: "/app",
	}
	if a.Root == "" || len(a.Secret) == 0 {
		return nil, errors.New("DOWNLOAD_ROOT and DOWNLOAD_SECRET must be set (bin-environment)")
	}
	a.SecDL.Secret = []byte(os.Getenv("SECDOWNLOAD_SECRET"))
	a.SecDL.URIPrefix = envOr("SECDOWNLOAD_PREFIX", "/secure/")
	alg, err := secdownload.ParseAlgorithm(envOr("SECDOWNLOAD_ALGORITHM", "hmac-sha256"))
	if err != nil {
		return nil, err
	}
	a.SecDL.Algorithm = alg
	return a, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Main serves FastCGI on the socket the server passes as standard input
// (FCGI_LISTENSOCK_FILENO), as php-cgi does.
func Main() int {
	a, err := FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "download-app:", err)
		return 1
	}
	if err := fcgi.Serve(nil, a); err != nil {
		fmt.Fprintln(os.Stderr, "download-app:", err)
		return 1
	}
	return 0
}

// ServeHTTP routes a request: the index page, or a download.
func (a *App) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, a.ScriptName) {
	case "/", "":
		a.index(w, r)
	case "/download":
		a.download(w, r)
	default:
		http.NotFound(w, r)
	}
}

// ticket is the MAC that authorizes name until the Unix time expires.
func (a *App) ticket(name string, expires int64) string {
	m := hmac.New(sha256.New, a.Secret)
	fmt.Fprintf(m, "%s\n%d", name, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// DownloadURL is the authorized link to name, handed off with header
// ("X-Sendfile" or "X-send-response-body").
func (a *App) DownloadURL(name, header string) string {
	exp := a.Now().Add(ticketLife).Unix()
	v := url.Values{"file": {name}, "expires": {strconv.FormatInt(exp, 10)}, "ticket": {a.ticket(name, exp)}}
	if header != "X-Sendfile" {
		v.Set("via", header)
	}
	return a.ScriptName + "/download?" + v.Encode()
}

// download checks the ticket and hands the file to the server; the
// server sends it (with Range, ETag and sendfile) and strips the header.
func (a *App) download(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("file")
	exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
	switch {
	case err != nil || !hmac.Equal([]byte(q.Get("ticket")), []byte(a.ticket(name, exp))):
		deny(w, "this download link is not valid")
		return
	case a.Now().Unix() > exp:
		deny(w, "this download link has expired")
		return
	case name == "" || name != filepath.Base(name) || strings.HasPrefix(name, "."):
		deny(w, "no such download")
		return
	}
	header := "X-Sendfile"
	if q.Get("via") == "X-send-response-body" {
		header = "X-send-response-body"
	}
	h := w.Header()
	h["Content-Type"] = nil // the server's mimetype.assign decides
	h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
	h.Set(header, filepath.Join(a.Root, name))
	w.WriteHeader(http.StatusOK)
}

func deny(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintln(w, msg)
}

var indexPage = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>golighty</title></head>
<body>
<h1>golighty works</h1>
<p>This site runs on golighty with an unchanged lighttpd 1.4 configuration file,
<code>testconf/lighttpd.conf</code>. This page comes from a small FastCGI application
written in Go (<code>golighty download-app</code>), which the server started through
<code>fastcgi.server</code>'s <code>bin-path</code>, the way it starts <code>php-cgi</code>.</p>

<h2>Downloads authorized by the application</h2>
<p>The application checks the ticket in the link, then answers with an
<code>X-Sendfile</code> header naming the file: the server sends the file itself
(with Range, ETag and sendfile), and the header never reaches you. The links expire
in an hour; change one character of the ticket and the application refuses.</p>
<ul>
{{range .Files}}<li>{{.Name}}: <a href="{{.Sendfile}}">via X-Sendfile</a>,
 <a href="{{.ResponseBody}}">via X-send-response-body</a></li>
{{end}}</ul>

<h2>mod_secdownload</h2>
<p>No application at all: the link carries a MAC and a time stamp that
mod_secdownload checks against <code>secdownload.secret</code>; it stays valid for
<code>secdownload.timeout</code> seconds. Make your own with
<code>golighty secdownload-url</code>.</p>
<ul>
{{range .Files}}<li><a href="{{.Secure}}">{{.Name}}</a></li>
{{end}}</ul>

<h2>Also configured</h2>
<ul>
<li><a href="/hello.txt">/hello.txt</a>: a static file</li>
<li><a href="/private/secret.txt">/private/secret.txt</a>: refused with 403 by <code>url.access-deny</code></li>
</ul>
</body>
</html>
`))

type indexFile struct{ Name, Sendfile, ResponseBody, Secure string }

// index lists the files of DOWNLOAD_ROOT with their links.
func (a *App) index(w http.ResponseWriter, r *http.Request) {
	ents, err := os.ReadDir(a.Root)
	if err != nil {
		http.Error(w, "cannot list the downloads", http.StatusInternalServerError)
		return
	}
	var files []indexFile
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		files = append(files, indexFile{
			Name:         e.Name(),
			Sendfile:     a.DownloadURL(e.Name(), "X-Sendfile"),
			ResponseBody: a.DownloadURL(e.Name(), "X-send-response-body"),
			Secure:       a.SecDL.Sign("/"+e.Name(), a.Now()),
		})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store") // the links carry time stamps
	indexPage.Execute(w, struct{ Files []indexFile }{files})
}
