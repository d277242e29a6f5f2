package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	randv2 "math/rand/v2"
	"strconv"
)

// Digest nonces are "<hex time>:<hex random>:<hex MAC>". Unlike lighttpd,
// which without a nonce-secret only checks that the time in a nonce is
// recent (so any client-made nonce with the current time passes), golighty
// signs every nonce it issues: with the require's nonce-secret when one is
// set (shared by servers behind one name), else with a key made at start-up.
// A nonce without a valid signature is refused like an expired one.

// nonceLifetime is how long a nonce is good for, as in lighttpd.
const nonceLifetime = 600

// processKey signs nonces of requires without a nonce-secret; it lives as
// long as the process, so a reload keeps issued nonces valid.
var processKey = func() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("auth: no randomness for the nonce key: " + err.Error())
	}
	return k
}()

type nonceState uint8

const (
	nonceOK     nonceState = iota
	nonceStale             // no valid time, from the future, or too old
	nonceForged            // not signed by this server
)

// newNonce issues a nonce for req and the digest algorithm algo.
func newNonce(req *Require, algo Algo, now int64) string {
	rnd := randv2.Uint32()
	var b [16 + 1 + 8 + 1 + 64]byte
	out := strconv.AppendInt(b[:0], now, 16)
	out = append(out, ':')
	out = appendHex32(out, rnd)
	out = append(out, ':')
	var mac [32]byte
	nonceMAC(&mac, req, algo, now, rnd)
	n := algo.Size()
	out = out[:len(out)+2*n]
	hex.Encode(out[len(out)-2*n:], mac[:n])
	return string(out)
}

func appendHex32(dst []byte, v uint32) []byte {
	const digits = "0123456789abcdef"
	for s := 28; s >= 0; s -= 4 {
		dst = append(dst, digits[v>>uint(s)&15])
	}
	return dst
}

func nonceMAC(dst *[32]byte, req *Require, algo Algo, ts int64, rnd uint32) {
	key := processKey
	if req.HasSecret && req.NonceSecret != "" {
		key = []byte(req.NonceSecret)
	}
	m := hmac.New(sha256.New, key)
	var b [1 + 8 + 4]byte
	b[0] = byte(algo &^ AlgoSess)
	binary.BigEndian.PutUint64(b[1:], uint64(ts))
	binary.BigEndian.PutUint32(b[9:], rnd)
	m.Write(b[:])
	m.Write([]byte(req.Realm))
	m.Sum(dst[:0])
}

// verifyNonce checks a nonce the client sent back for algo (lighttpd's age
// rules: not from the future, at most 10 minutes old) and its signature.
func verifyNonce(req *Require, algo Algo, nonce string, now int64) (int64, nonceState) {
	var ts int64
	i := 0
	for ; i < len(nonce) && i < 16 && unhex(nonce[i]) != 0xff; i++ {
		ts = ts<<4 | int64(unhex(nonce[i]))
	}
	if i == 0 || i == len(nonce) || nonce[i] != ':' || ts > now || now-ts > nonceLifetime {
		return ts, nonceStale
	}
	rest := nonce[i+1:]
	if len(rest) < 9 || rest[8] != ':' || !isHex(rest[:8]) {
		return ts, nonceForged
	}
	var rnd uint32
	for j := 0; j < 8; j++ {
		rnd = rnd<<4 | uint32(unhex(rest[j]))
	}
	sig := rest[9:]
	n := (algo &^ AlgoSess).Size()
	if len(sig) != 2*n || !isHex(sig) {
		return ts, nonceForged
	}
	var mac [32]byte
	nonceMAC(&mac, req, algo&^AlgoSess, ts, rnd)
	var got [32]byte
	for j := 0; j < n; j++ {
		got[j] = unhex(sig[2*j])<<4 | unhex(sig[2*j+1])
	}
	if !hmac.Equal(got[:n], mac[:n]) {
		return ts, nonceForged
	}
	return ts, nonceOK
}
