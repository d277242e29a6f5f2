package authnfile

import (
	"crypto/sha1"
	"crypto/subtle"
	"strings"

	"github.com/GehirnInc/crypt"
	_ "github.com/GehirnInc/crypt/apr1_crypt"   // $apr1$
	_ "github.com/GehirnInc/crypt/md5_crypt"    // $1$
	_ "github.com/GehirnInc/crypt/sha256_crypt" // $5$
	_ "github.com/GehirnInc/crypt/sha512_crypt" // $6$
	"golang.org/x/crypto/bcrypt"

	"github.com/golighty/golighty/modules/auth"
	"github.com/golighty/golighty/modules/internal/descrypt"
)

// checkHtpasswd reports whether pw matches an htpasswd value, with the
// formats lighttpd 1.4.69 on Debian accepts: {SHA}, $apr1$, and through
// crypt() every value of 13 or more characters: $1$, $5$, $6$, bcrypt and
// DES (which uses eight password characters). A shorter value (plain text
// from `htpasswd -p`) never matches, as in lighttpd.
func checkHtpasswd(hash, pw string) bool {
	switch {
	case strings.HasPrefix(hash, "{SHA}"):
		var buf [64]byte
		want, ok := auth.DecodeBase64(buf[:0], hash[5:])
		sum := sha1.Sum([]byte(pw))
		return ok && len(want) == sha1.Size && subtle.ConstantTimeCompare(want, sum[:]) == 1
	case strings.HasPrefix(hash, "$apr1$"):
		return cryptMatches(crypt.APR1, hash, pw)
	case len(hash) < 13:
		return false
	case strings.HasPrefix(hash, "$1$"):
		return cryptMatches(crypt.MD5, hash, pw)
	case strings.HasPrefix(hash, "$5$"):
		return cryptMatches(crypt.SHA256, hash, pw)
	case strings.HasPrefix(hash, "$6$"):
		return cryptMatches(crypt.SHA512, hash, pw)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		if len(pw) > 72 {
			pw = pw[:72] // bcrypt reads 72 bytes; crypt() ignores the rest
		}
		return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
	case hash[0] == '$' || hash[0] == '_':
		return false // another crypt() scheme (yescrypt "$y$", ...): not supported
	}
	got, ok := descrypt.Crypt(pw, hash)
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}

// cryptMatches recomputes a crypt-style hash from its setting (the part
// before the last '$') and compares the whole string in constant time.
func cryptMatches(c crypt.Crypt, hash, pw string) bool {
	i := strings.LastIndexByte(hash, '$')
	if i <= 0 {
		return false
	}
	got, err := c.New().Generate([]byte(pw), []byte(hash[:i]))
	return err == nil && subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}
