package ssl

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// OpenSSL's X509_V_ERR codes golighty reports, with OpenSSL's texts: the
// number is what SSL_CLIENT_VERIFY shows after a failed optional check.
const (
	errUnableToGetCRL        = 3
	errCertSignatureFailure  = 7
	errCertNotYetValid       = 9
	errCertHasExpired        = 10
	errCRLHasExpired         = 12
	errDepthZeroSelfSigned   = 18
	errSelfSignedInChain     = 19
	errUnableToGetIssuerLocl = 20
	errCertChainTooLong      = 22
	errCertRevoked           = 23
	errInvalidCA             = 24
	errInvalidPurpose        = 26
	errCertRejected          = 28
	errUnspecified           = 1
)

var verifyText = map[int]string{
	errUnspecified:           "unspecified certificate verification error",
	errUnableToGetCRL:        "unable to get certificate CRL",
	errCertSignatureFailure:  "certificate signature failure",
	errCertNotYetValid:       "certificate is not yet valid",
	errCertHasExpired:        "certificate has expired",
	errCRLHasExpired:         "CRL has expired",
	errDepthZeroSelfSigned:   "self-signed certificate",
	errSelfSignedInChain:     "self-signed certificate in certificate chain",
	errUnableToGetIssuerLocl: "unable to get local issuer certificate",
	errCertChainTooLong:      "certificate chain too long",
	errCertRevoked:           "certificate revoked",
	errInvalidCA:             "invalid CA certificate",
	errInvalidPurpose:        "unsupported certificate purpose",
	errCertRejected:          "certificate rejected",
}

// verifyError is a failed client-certificate check: OpenSSL's code, the
// depth in the chain it concerns and that certificate.
type verifyError struct {
	code  int
	depth int
	cert  *x509.Certificate
}

func (e *verifyError) Error() string {
	return fmt.Sprintf("verify error:num=%d:%s:depth=%d:subject=%s", e.code, verifyText[e.code], e.depth, oneline(e.cert.RawSubject))
}

// verifyParams are the ssl.verifyclient.* settings of a handshake.
type verifyParams struct {
	ca    *caState
	dn    *dnState // ssl.ca-dn-file, nil when unset
	depth int
}

// verifyClient checks a client's chain the way lighttpd's verify_callback
// and OpenSSL do: trusted by ssl.ca-file, usable for client auth, no longer
// than ssl.verifyclient.depth (counting the root), issued by a name in
// ssl.ca-dn-file when set, and, with CRLs loaded, not revoked at any level.
func verifyClient(p verifyParams, peer []*x509.Certificate, now time.Time) *verifyError {
	leaf := peer[0]
	inter := x509.NewCertPool()
	for _, c := range peer[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots: p.ca.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return classify(err, peer)
	}
	chain := chains[0]
	if d := len(chain) - 1; d > p.depth {
		return &verifyError{code: errCertChainTooLong, depth: d, cert: chain[d]}
	}
	if p.dn != nil && !p.dn.has(leaf.RawIssuer) {
		return &verifyError{code: errCertRejected, depth: 0, cert: leaf}
	}
	if len(p.ca.crls) > 0 {
		for i, c := range chain {
			issuer := c
			if i+1 < len(chain) {
				issuer = chain[i+1]
			}
			if code := p.ca.revocation(c, issuer, now); code != 0 {
				return &verifyError{code: code, depth: i, cert: c}
			}
		}
	}
	return nil
}

// revocation checks c against a CRL its issuer signed (OpenSSL's
// X509_V_FLAG_CRL_CHECK_ALL: every level needs one).
func (st *caState) revocation(c, issuer *x509.Certificate, now time.Time) int {
	for _, crl := range st.crls {
		if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) || crl.CheckSignatureFrom(issuer) != nil {
			continue
		}
		if !crl.NextUpdate.IsZero() && now.After(crl.NextUpdate) {
			return errCRLHasExpired
		}
		for _, r := range crl.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(c.SerialNumber) == 0 {
				return errCertRevoked
			}
		}
		return 0
	}
	return errUnableToGetCRL
}

// classify maps crypto/x509's verdict onto the OpenSSL code a client of
// lighttpd would have seen.
func classify(err error, peer []*x509.Certificate) *verifyError {
	leaf := peer[0]
	var inv x509.CertificateInvalidError
	var unk x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv):
		switch inv.Reason {
		case x509.Expired:
			if time.Now().Before(inv.Cert.NotBefore) {
				return &verifyError{code: errCertNotYetValid, depth: depthOf(inv.Cert, peer), cert: inv.Cert}
			}
			return &verifyError{code: errCertHasExpired, depth: depthOf(inv.Cert, peer), cert: inv.Cert}
		case x509.IncompatibleUsage:
			return &verifyError{code: errInvalidPurpose, depth: 0, cert: leaf}
		case x509.NotAuthorizedToSign, x509.CANotAuthorizedForThisName:
			return &verifyError{code: errInvalidCA, depth: depthOf(inv.Cert, peer), cert: inv.Cert}
		case x509.TooManyIntermediates:
			return &verifyError{code: errCertChainTooLong, depth: len(peer) - 1, cert: peer[len(peer)-1]}
		}
	case errors.As(err, &unk):
		last := peer[len(peer)-1]
		selfSigned := bytes.Equal(last.RawIssuer, last.RawSubject)
		switch {
		case selfSigned && len(peer) == 1:
			return &verifyError{code: errDepthZeroSelfSigned, depth: 0, cert: leaf}
		case selfSigned:
			return &verifyError{code: errSelfSignedInChain, depth: len(peer) - 1, cert: last}
		}
		return &verifyError{code: errUnableToGetIssuerLocl, depth: len(peer) - 1, cert: last}
	}
	var sig x509.InsecureAlgorithmError
	if errors.As(err, &sig) || errors.Is(err, x509.ErrUnsupportedAlgorithm) {
		return &verifyError{code: errCertSignatureFailure, depth: 0, cert: leaf}
	}
	return &verifyError{code: errUnspecified, depth: 0, cert: leaf}
}

func depthOf(c *x509.Certificate, peer []*x509.Certificate) int {
	for i, p := range peer {
		if p == c {
			return i
		}
	}
	return 0
}

// verdict is what a connection's handshake decided about the client
// certificate, kept for the requests on it (SSL_CLIENT_*).
type verdict struct {
	leaf *x509.Certificate // nil: none sent
	err  *verifyError

	once    sync.Once
	dn      string   // SSL_CLIENT_S_DN
	entries []dnPair // SSL_CLIENT_S_DN_<short name>
	serial  string   // SSL_CLIENT_M_SERIAL
	pem     string   // SSL_CLIENT_CERT
}

type dnPair struct{ name, value string }

// status is SSL_CLIENT_VERIFY. A failure shows OpenSSL's packed error
// string of the verify code, as lighttpd passes the X509_V_ERR number to
// ERR_error_string_n.
func (v *verdict) status() string {
	switch {
	case v.err != nil:
		return fmt.Sprintf("FAILED:error:%08X:lib(0)::reason(%d)", v.err.code, v.err.code)
	case v.leaf == nil:
		return "NONE"
	}
	return "SUCCESS"
}

// fill computes the subject variables once per connection.
func (v *verdict) fill() {
	v.once.Do(func() {
		v.dn = oneline(v.leaf.RawSubject)
		v.entries = subjectEntries(v.leaf.RawSubject)
		v.serial = strings.ToUpper(hex.EncodeToString(v.leaf.SerialNumber.Bytes()))
		if v.serial == "" {
			v.serial = "0"
		}
		if v.leaf.SerialNumber.Sign() < 0 {
			v.serial = "-" + v.serial
		}
		v.pem = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: v.leaf.Raw}))
	})
}

// shortNames are OpenSSL's short names of the attribute types seen in
// certificate subjects (OBJ_nid2sn).
var shortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C", "2.5.4.7": "L",
	"2.5.4.8": "ST", "2.5.4.9": "street", "2.5.4.10": "O", "2.5.4.11": "OU", "2.5.4.12": "title",
	"2.5.4.13": "description", "2.5.4.15": "businessCategory", "2.5.4.17": "postalCode",
	"2.5.4.41": "name", "2.5.4.42": "GN", "2.5.4.43": "initials", "2.5.4.44": "generationQualifier",
	"2.5.4.46": "dnQualifier", "2.5.4.65": "pseudonym", "2.5.4.97": "organizationIdentifier",
	"1.2.840.113549.1.9.1": "emailAddress", "0.9.2342.19200300.100.1.1": "UID",
	"0.9.2342.19200300.100.1.25": "DC", "1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
	"1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST", "1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL",
}

// rdnValue is one attribute of a name with its raw ASN.1 value.
type rdnValue struct {
	oid   asn1.ObjectIdentifier
	value asn1.RawValue
}

// parseName splits a DER name into its RDNs, keeping raw values (crypto/x509
// flattens multi-valued RDNs and decodes only some string types).
func parseName(der []byte) [][]rdnValue {
	var seq []asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 {
		return nil
	}
	var out [][]rdnValue
	for _, set := range seq {
		var atvs []struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}
		if _, err := asn1.UnmarshalWithParams(set.FullBytes, &atvs, "set"); err != nil {
			return nil
		}
		var rdn []rdnValue
		for _, a := range atvs {
			rdn = append(rdn, rdnValue{oid: a.Type, value: a.Value})
		}
		out = append(out, rdn)
	}
	return out
}

// stringOf decodes an attribute value to UTF-8 (OpenSSL's
// ASN1_STRFLGS_UTF8_CONVERT); ok is false for types that are not strings.
func stringOf(v asn1.RawValue) (string, bool) {
	switch v.Tag {
	case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagNumericString, 26: // VisibleString
		return string(v.Bytes), true
	case asn1.TagT61String: // Latin-1, as OpenSSL treats it
		var b strings.Builder
		for _, c := range v.Bytes {
			b.WriteRune(rune(c))
		}
		return b.String(), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return "", false
		}
		var b strings.Builder
		for i := 0; i+1 < len(v.Bytes); i += 2 {
			b.WriteRune(rune(v.Bytes[i])<<8 | rune(v.Bytes[i+1]))
		}
		return b.String(), true
	case 28: // UniversalString
		if len(v.Bytes)%4 != 0 {
			return "", false
		}
		var b strings.Builder
		for i := 0; i+3 < len(v.Bytes); i += 4 {
			b.WriteRune(rune(v.Bytes[i])<<24 | rune(v.Bytes[i+1])<<16 | rune(v.Bytes[i+2])<<8 | rune(v.Bytes[i+3]))
		}
		return b.String(), true
	}
	return "", false
}

// oneline renders a DER name as OpenSSL's X509_NAME_print_ex with
// XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB, the form of SSL_CLIENT_S_DN:
// `C = DE, O = "Org, Inc", CN = alice`.
func oneline(der []byte) string {
	var b strings.Builder
	for i, rdn := range parseName(der) {
		if i > 0 {
			b.WriteString(", ")
		}
		for j, a := range rdn {
			if j > 0 {
				b.WriteString(" + ")
			}
			name, ok := shortNames[a.oid.String()]
			if !ok {
				name = a.oid.String()
			}
			b.WriteString(name)
			b.WriteString(" = ")
			s, isString := stringOf(a.value)
			if !isString {
				b.WriteByte('#') // values of other types are dumped as DER hex
				b.WriteString(strings.ToUpper(hex.EncodeToString(a.value.FullBytes)))
				continue
			}
			b.WriteString(escapeDNValue(s))
		}
	}
	return b.String()
}

// escapeDNValue applies RFC 2253 escaping with ASN1_STRFLGS_ESC_QUOTE: a
// value holding a special character is quoted instead of escaped, `"` and
// `\` are backslash-escaped, control characters become \XX, and bytes above
// 0x7f stay raw UTF-8.
func escapeDNValue(s string) string {
	quote := false
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		c := s[i]
		switch {
		case r >= 0x80:
			b.WriteString(s[i : i+n])
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\%02X", c)
		case c == ',' || c == '+' || c == '<' || c == '>' || c == ';',
			c == '#' && i == 0, c == ' ' && (i == 0 || i == len(s)-1):
			quote = true
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
		i += n
	}
	if quote {
		return `"` + b.String() + `"`
	}
	return b.String()
}

// subjectEntries are the SSL_CLIENT_S_DN_<short name> variables: each
// attribute's string, a repeated name keeping its first place and the last
// value (lighttpd sets them one by one into the request environment).
func subjectEntries(der []byte) []dnPair {
	var out []dnPair
	for _, rdn := range parseName(der) {
		for _, a := range rdn {
			name, ok := shortNames[a.oid.String()]
			if !ok {
				name = "UNDEF"
			}
			// The attribute's bytes as stored (lighttpd copies the
			// ASN1_STRING's data without converting it).
			val := string(a.value.Bytes)
			key := "SSL_CLIENT_S_DN_" + name
			replaced := false
			for i := range out {
				if out[i].name == key {
					out[i].value, replaced = val, true
				}
			}
			if !replaced {
				out = append(out, dnPair{key, val})
			}
		}
	}
	return out
}
