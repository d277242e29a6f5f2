package ssl

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ocsp"
)

// stamp identifies a file's content cheaply (inode, size, mtime), so a
// refresh re-reads only files that were replaced or rewritten.
type stamp struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

func stampOf(path string) (stamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return stamp{}, err
	}
	st := stamp{size: fi.Size(), mtime: fi.ModTime()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.dev, st.ino = uint64(sys.Dev), sys.Ino
	}
	return st, nil
}

// loadError reports a file that could not be read in lighttpd's words.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("fdevent_load_file() %s: %s", path, strerror(pe.Err))
		}
		return nil, err
	}
	return b, nil
}

func strerror(err error) string {
	msg := err.Error()
	if msg == "" {
		return msg
	}
	return string(bytes.ToUpper([]byte(msg[:1]))) + msg[1:]
}

// certFiles names one ssl.pemfile with the ssl.privkey and
// ssl.stapling-file of its block.
type certFiles struct {
	pem, key, staple string
}

func (f certFiles) poolKey() string {
	return "ssl.cert\x00" + f.pem + "\x00" + f.key + "\x00" + f.staple
}

func (f certFiles) paths() []string {
	out := []string{f.pem}
	if f.key != f.pem {
		out = append(out, f.key)
	}
	if f.staple != "" {
		out = append(out, f.staple)
	}
	return out
}

// certStore holds the certificate of one ssl.pemfile as it is served now.
// It lives in the SharedPool: reloads that keep the pemfile keep the store
// (no re-read), and a changed file is swapped in for new handshakes while
// open connections keep theirs.
type certStore struct {
	files certFiles
	cur   atomic.Pointer[certState]
	mu    sync.Mutex // one refresh at a time
}

// certState is one loaded version of the files.
type certState struct {
	cert        *tls.Certificate // with the OCSP staple, when one is valid
	bare        *tls.Certificate // without a staple, served once it expired
	stapleUntil time.Time        // the staple's Next Update (zero: none)
	mustStaple  bool
	pemStamp    stamp
	keyStamp    stamp
	stapleStamp stamp
}

// get returns the certificate for a handshake now.
func (s *certStore) get() *tls.Certificate {
	st := s.cur.Load()
	if !st.stapleUntil.IsZero() && time.Now().After(st.stapleUntil) {
		return st.bare
	}
	return st.cert
}

// loadCertStore reads the files for a new store (config load: errors are
// fatal, as lighttpd's).
func loadCertStore(f certFiles, warn func(string)) (*certStore, error) {
	st, err := loadCert(f, warn)
	if err != nil {
		return nil, err
	}
	s := &certStore{files: f}
	s.cur.Store(st)
	return s, nil
}

// refresh re-reads the files when one of them changed. A bad new version is
// reported and the running certificate stays. Staples are re-read when the
// file changed or the current one is close to expiry (lighttpd: 256 s).
func (s *certStore) refresh(log *slog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.cur.Load()
	ps, perr := stampOf(s.files.pem)
	ks, kerr := stampOf(s.files.key)
	if perr == nil && kerr == nil && ps == old.pemStamp && ks == old.keyStamp {
		s.refreshStaple(old, log)
		return
	}
	st, err := loadCert(s.files, func(msg string) { log.Warn(msg) })
	if err != nil {
		log.Error(fmt.Sprintf("SSL: %s changed but cannot be used, the previous certificate stays: %v", s.files.pem, err))
		return
	}
	s.cur.Store(st)
	log.Info(fmt.Sprintf("SSL: loaded the new certificate from %s (%s) for new handshakes", s.files.pem, describeCert(st.cert.Leaf)))
}

func (s *certStore) refreshStaple(old *certState, log *slog.Logger) {
	if s.files.staple == "" {
		return
	}
	if !old.stapleUntil.IsZero() && time.Now().After(old.stapleUntil) {
		// Discard the expired response, as lighttpd does.
		st := *old
		st.cert, st.stapleUntil = st.bare, time.Time{}
		s.cur.Store(&st)
		old = &st
		if st.mustStaple {
			log.Error(fmt.Sprintf("certificate marked OCSP Must-Staple, but OCSP response expired from ssl.stapling-file %s", s.files.staple))
		}
	}
	ss, err := stampOf(s.files.staple)
	if err != nil || ss == old.stapleStamp {
		return
	}
	st := *old
	if err := st.loadStaple(s.files.staple, ss); err != nil {
		log.Error(fmt.Sprintf("SSL: %v", err))
		st = *old
		st.stapleStamp = ss // report a bad file once
	}
	s.cur.Store(&st)
}

func describeCert(c *x509.Certificate) string {
	return fmt.Sprintf("subject %q, valid until %s", c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339))
}

// loadCert reads pemfile and privkey as lighttpd does: PEM (the first
// certificate is the server's, later ones the chain; key blocks are
// skipped) or a single DER certificate; the key in PEM or DER.
func loadCert(f certFiles, warn func(string)) (*certState, error) {
	st := &certState{}
	var err error
	if st.pemStamp, err = stampOf(f.pem); err != nil {
		return nil, fmt.Errorf("fdevent_load_file() %s: %s", f.pem, strerror(unwrapPath(err)))
	}
	data, err := readFile(f.pem)
	if err != nil {
		return nil, err
	}
	chain := parseCerts(data)
	if len(chain) == 0 {
		return nil, fmt.Errorf("SSL: couldn't read X509 certificate from '%s'", f.pem)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("SSL: couldn't read X509 certificate from '%s'", f.pem)
	}
	now := time.Now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		warn(fmt.Sprintf("SSL: inactive/expired X509 certificate '%s'", f.pem))
	}
	if st.keyStamp, err = stampOf(f.key); err != nil {
		return nil, fmt.Errorf("fdevent_load_file() %s: %s", f.key, strerror(unwrapPath(err)))
	}
	kdata := data
	if f.key != f.pem {
		if kdata, err = readFile(f.key); err != nil {
			return nil, err
		}
	}
	key, err := parseKey(kdata)
	if err != nil {
		return nil, fmt.Errorf("SSL: couldn't read private key from '%s'", f.key)
	}
	if !publicKeyMatches(leaf.PublicKey, key) {
		return nil, fmt.Errorf("SSL:Private key does not match the certificate public key, reason: key values mismatch %s %s", f.pem, f.key)
	}
	st.cert = &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}
	st.bare = st.cert
	st.mustStaple = mustStaple(leaf)
	if f.staple != "" {
		ss, err := stampOf(f.staple)
		if err == nil {
			err = st.loadStaple(f.staple, ss)
		}
		if err != nil {
			// lighttpd continues without a staple.
			warn(fmt.Sprintf("SSL: %v", err))
		}
	} else if st.mustStaple {
		warn(fmt.Sprintf("certificate %s marked OCSP Must-Staple, but ssl.stapling-file not provided", f.pem))
	}
	return st, nil
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// parseCerts returns the DER certificates of a PEM file, or the file itself
// when it holds no PEM (a DER certificate).
func parseCerts(data []byte) [][]byte {
	if !bytes.Contains(data, []byte("-----")) {
		if _, err := x509.ParseCertificate(data); err != nil {
			return nil
		}
		return [][]byte{data}
	}
	var out [][]byte
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out
		}
		if b.Type == "CERTIFICATE" || b.Type == "TRUSTED CERTIFICATE" {
			out = append(out, b.Bytes)
		}
	}
}

// parseKey returns the first private key of a PEM file, or the file as a
// DER key.
func parseKey(data []byte) (crypto.Signer, error) {
	if !bytes.Contains(data, []byte("-----")) {
		return parseDERKey(data)
	}
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return nil, errors.New("no private key")
		}
		switch b.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			return parseDERKey(b.Bytes)
		}
	}
}

func parseDERKey(der []byte) (crypto.Signer, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("unsupported key type")
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k, nil
	}
	return nil, errors.New("not a private key")
}

func publicKeyMatches(pub crypto.PublicKey, key crypto.Signer) bool {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return p.Equal(key.Public())
	case *ecdsa.PublicKey:
		return p.Equal(key.Public())
	case ed25519.PublicKey:
		return p.Equal(key.Public())
	}
	return false
}

// oidTLSFeature is the TLS Feature extension (RFC 7633); status_request (5)
// in it means OCSP Must-Staple.
var oidTLSFeature = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 24}

func mustStaple(c *x509.Certificate) bool {
	for _, e := range c.Extensions {
		if !e.Id.Equal(oidTLSFeature) {
			continue
		}
		var features []int
		if _, err := asn1.Unmarshal(e.Value, &features); err != nil {
			return false
		}
		for _, f := range features {
			if f == 5 {
				return true
			}
		}
	}
	return false
}

// loadStaple reads ssl.stapling-file (a DER OCSP response), checks that it
// answers for this certificate (signed by its issuer when the pemfile holds
// the chain) and is not expired, and staples it. Without Next Update the
// response is served and checked again in an hour, as lighttpd.
func (st *certState) loadStaple(path string, ss stamp) error {
	der, err := readFile(path)
	if err != nil {
		return err
	}
	leaf := st.cert.Leaf
	var resp *ocsp.Response
	if len(st.cert.Certificate) > 1 {
		issuer, ierr := x509.ParseCertificate(st.cert.Certificate[1])
		if ierr == nil {
			resp, err = ocsp.ParseResponseForCert(der, leaf, issuer)
		} else {
			resp, err = ocsp.ParseResponse(der, nil)
		}
	} else {
		resp, err = ocsp.ParseResponse(der, nil)
	}
	if err != nil {
		return fmt.Errorf("OCSP stapling file read error: %v %s", err, path)
	}
	if resp.SerialNumber == nil || resp.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		return fmt.Errorf("OCSP stapling file %s is for another certificate", path)
	}
	until := resp.NextUpdate
	if until.IsZero() {
		until = time.Now().Add(time.Hour)
	} else if until.Before(time.Now()) {
		return fmt.Errorf("OCSP response in ssl.stapling-file %s expired at %s", path, until.UTC().Format(time.RFC3339))
	}
	stapled := *st.bare
	stapled.OCSPStaple = der
	st.cert, st.stapleUntil, st.stapleStamp = &stapled, until, ss
	return nil
}
