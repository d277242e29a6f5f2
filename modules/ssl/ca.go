package ssl

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// caFiles names one ssl.ca-file (or ssl.verifyclient.ca-file) with the CRL
// file that applies to it: its block's ssl.ca-crl-file, else the global one.
type caFiles struct {
	ca, crl string
}

func (f caFiles) poolKey() string { return "ssl.ca\x00" + f.ca + "\x00" + f.crl }

func (f caFiles) paths() []string {
	if f.crl == "" {
		return []string{f.ca}
	}
	return []string{f.ca, f.crl}
}

// caStore holds the client-certificate trust of one ssl.ca-file as it is
// used now; like certStore it survives reloads and follows file changes.
type caStore struct {
	files caFiles
	cur   atomic.Pointer[caState]
	mu    sync.Mutex
}

type caState struct {
	roots *x509.CertPool // trust anchors (ssl.ca-file, and certificates in the CRL file)
	names *x509.CertPool // subjects sent in the CertificateRequest
	crls  []*x509.RevocationList
	certs []*x509.Certificate // everything in roots, to find CRL issuers
	stamps
}

// stamps are the stamps of a store's files, in paths() order.
type stamps []stamp

func stampsOf(paths []string) (stamps, error) {
	out := make(stamps, len(paths))
	for i, p := range paths {
		st, err := stampOf(p)
		if err != nil {
			return nil, err
		}
		out[i] = st
	}
	return out, nil
}

func (a stamps) equal(b stamps) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func loadCAStore(f caFiles) (*caStore, error) {
	st, err := loadCA(f)
	if err != nil {
		return nil, err
	}
	s := &caStore{files: f}
	s.cur.Store(st)
	return s, nil
}

func (s *caStore) refresh(log *slog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, err := stampsOf(s.files.paths())
	if err == nil && now.equal(s.cur.Load().stamps) {
		return
	}
	st, err := loadCA(s.files)
	if err != nil {
		log.Error(fmt.Sprintf("SSL: %s changed but cannot be used, the previous CA stays: %v", s.files.ca, err))
		return
	}
	s.cur.Store(st)
	log.Info(fmt.Sprintf("SSL: loaded the new client CA from %s for new handshakes", s.files.ca))
}

// loadCA reads the CA certificates (PEM) and the CRL file, which may hold
// CRLs and more certificates (OpenSSL's X509_STORE_load_file).
func loadCA(f caFiles) (*caState, error) {
	st := &caState{roots: x509.NewCertPool(), names: x509.NewCertPool()}
	var err error
	if st.stamps, err = stampsOf(f.paths()); err != nil {
		return nil, fmt.Errorf("SSL: %s %s", strerror(unwrapPath(err)), f.ca)
	}
	data, err := readFile(f.ca)
	if err != nil {
		return nil, err
	}
	certs, err := pemCerts(data)
	if err != nil {
		return nil, fmt.Errorf("SSL: couldn't read X509 certificates from '%s'", f.ca)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("SSL: ssl.verifyclient.ca-file is empty %s", f.ca)
	}
	for _, c := range certs {
		st.roots.AddCert(c)
		st.names.AddCert(c)
	}
	st.certs = certs
	if f.crl != "" {
		data, err := readFile(f.crl)
		if err != nil {
			return nil, err
		}
		found := false
		for rest := data; ; {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			switch b.Type {
			case "X509 CRL":
				crl, err := x509.ParseRevocationList(b.Bytes)
				if err != nil {
					return nil, fmt.Errorf("SSL: %v %s", err, f.crl)
				}
				st.crls = append(st.crls, crl)
				found = true
			case "CERTIFICATE", "TRUSTED CERTIFICATE":
				c, err := x509.ParseCertificate(b.Bytes)
				if err != nil {
					return nil, fmt.Errorf("SSL: %v %s", err, f.crl)
				}
				st.roots.AddCert(c)
				st.certs = append(st.certs, c)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("SSL: no certificate or crl found %s", f.crl)
		}
	}
	return st, nil
}

// pemCerts parses every CERTIFICATE block of a PEM file.
func pemCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out, nil
		}
		if b.Type != "CERTIFICATE" && b.Type != "TRUSTED CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// dnStore is ssl.ca-dn-file: the issuer names a client certificate may
// have, also the names sent in the CertificateRequest.
type dnStore struct {
	file string
	cur  atomic.Pointer[dnState]
	mu   sync.Mutex
}

type dnState struct {
	names *x509.CertPool
	raw   [][]byte // RawSubject of each certificate
	stamp stamp
}

func loadDNStore(file string) (*dnStore, error) {
	st, err := loadDN(file)
	if err != nil {
		return nil, err
	}
	s := &dnStore{file: file}
	s.cur.Store(st)
	return s, nil
}

func loadDN(file string) (*dnState, error) {
	ss, err := stampOf(file)
	if err != nil {
		return nil, fmt.Errorf("SSL: %s %s", strerror(unwrapPath(err)), file)
	}
	data, err := readFile(file)
	if err != nil {
		return nil, err
	}
	certs, err := pemCerts(data)
	if err != nil || len(certs) == 0 {
		return nil, fmt.Errorf("SSL: couldn't read X509 names from %s", file)
	}
	st := &dnState{names: x509.NewCertPool(), stamp: ss}
	for _, c := range certs {
		st.names.AddCert(c)
		st.raw = append(st.raw, c.RawSubject)
	}
	return st, nil
}

func (s *dnStore) refresh(log *slog.Logger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, err := stampOf(s.file); err == nil && ss == s.cur.Load().stamp {
		return
	}
	st, err := loadDN(s.file)
	if err != nil {
		log.Error(fmt.Sprintf("SSL: %s changed but cannot be used, the previous names stay: %v", s.file, err))
		return
	}
	s.cur.Store(st)
}

func (st *dnState) has(issuer []byte) bool {
	for _, r := range st.raw {
		if bytes.Equal(r, issuer) {
			return true
		}
	}
	return false
}
