// Package ssltest makes certificates for tests: a CA, server and client
// certificates it issues, written as PEM files the way lighttpd configs
// name them (ssl.pemfile, ssl.privkey, ssl.ca-file).
package ssltest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Cert is a certificate with its key.
type Cert struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain is the issuing chain up to (not including) the root.
	Chain []*x509.Certificate
}

// Options shape a certificate. Zero values give a one-year ECDSA P-256
// server certificate for "localhost" and 127.0.0.1.
type Options struct {
	Subject   pkix.Name
	DNSNames  []string
	Serial    int64
	NotBefore time.Time
	NotAfter  time.Time
	Client    bool // clientAuth usage instead of serverAuth
	CA        bool
	RSA       bool // RSA-2048 instead of ECDSA P-256
	// ExtraExtensions are copied into the certificate (TLS feature, ...).
	ExtraExtensions []pkix.Extension
}

var serials atomic.Int64

// NewCA makes a self-signed root.
func NewCA(t testing.TB, cn string) *Cert {
	t.Helper()
	return issue(t, nil, Options{Subject: pkix.Name{CommonName: cn, Organization: []string{"golighty test"}}, CA: true})
}

// Issue makes a certificate signed by ca.
func (ca *Cert) Issue(t testing.TB, o Options) *Cert {
	t.Helper()
	return issue(t, ca, o)
}

func issue(t testing.TB, ca *Cert, o Options) *Cert {
	t.Helper()
	var key crypto.Signer
	var err error
	if o.RSA {
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	if o.Serial == 0 {
		o.Serial = 1000 + serials.Add(1)
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	if o.Subject.CommonName == "" && len(o.Subject.Names) == 0 && len(o.Subject.ExtraNames) == 0 {
		o.Subject.CommonName = "localhost"
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(o.Serial),
		Subject:               o.Subject,
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		ExtraExtensions:       o.ExtraExtensions,
	}
	switch {
	case o.CA:
		tmpl.IsCA = true
		tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	case o.Client:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = o.DNSNames
		if len(tmpl.DNSNames) == 0 {
			tmpl.DNSNames = []string{"localhost"}
		}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	parent, signer := tmpl, key
	var chain []*x509.Certificate
	if ca != nil {
		parent, signer = ca.Cert, ca.Key
		if ca.Cert.Issuer.String() != ca.Cert.Subject.String() {
			chain = append([]*x509.Certificate{ca.Cert}, ca.Chain...)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &Cert{Cert: c, Key: key, Chain: chain}
}

// CertPEM is the certificate followed by its chain, PEM-encoded.
func (c *Cert) CertPEM() []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw})
	for _, ch := range c.Chain {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ch.Raw})...)
	}
	return out
}

// KeyPEM is the private key in PKCS#8 PEM.
func (c *Cert) KeyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WritePEM writes certificate and key into one file (ssl.pemfile without
// ssl.privkey) and returns its path.
func (c *Cert) WritePEM(t testing.TB, dir, name string) string {
	t.Helper()
	return write(t, filepath.Join(dir, name), append(c.CertPEM(), c.KeyPEM()...))
}

// WriteCert writes the certificate alone.
func (c *Cert) WriteCert(t testing.TB, dir, name string) string {
	t.Helper()
	return write(t, filepath.Join(dir, name), c.CertPEM())
}

// WriteKey writes the key alone.
func (c *Cert) WriteKey(t testing.TB, dir, name string) string {
	t.Helper()
	return write(t, filepath.Join(dir, name), c.KeyPEM())
}

// TLS is the pair for a crypto/tls client or server.
func (c *Cert) TLS() tls.Certificate {
	chain := [][]byte{c.Cert.Raw}
	for _, ch := range c.Chain {
		chain = append(chain, ch.Raw)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: c.Key, Leaf: c.Cert}
}

// Pool is a pool holding c.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Cert)
	return p
}

// WriteCRL writes a CRL signed by c revoking the given serials.
func (c *Cert) WriteCRL(t testing.TB, dir, name string, nextUpdate time.Time, revoked ...int64) string {
	t.Helper()
	var entries []x509.RevocationListEntry
	for _, s := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Now().Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: nextUpdate,
		RevokedCertificateEntries: entries,
	}, c.Cert, c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return write(t, filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der}))
}

func write(t testing.TB, path string, data []byte) string {
	t.Helper()
	// Write then rename, so a watcher never sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}
