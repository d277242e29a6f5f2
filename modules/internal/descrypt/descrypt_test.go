package descrypt

import (
	"crypto/des"
	"encoding/binary"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

// TestDESCore checks the DES rounds against crypto/des: with the salt 0 the
// expansion is the standard one, so one encryption must equal DES.
func TestDESCore(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		key, block := r.Uint64(), r.Uint64()
		c, err := des.NewCipher(binary.BigEndian.AppendUint64(nil, key))
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, 8)
		c.Encrypt(want, binary.BigEndian.AppendUint64(nil, block))
		sub := subkeys(key)
		e := expansion(0)
		if got := encrypt(block, &sub, &e); got != binary.BigEndian.Uint64(want) {
			t.Fatalf("key %016x block %016x: got %016x, crypto/des %x", key, block, got, want)
		}
	}
}

// Vectors written by Apache's `htpasswd -nbd` and by glibc's crypt()
// through perl.
func TestVectors(t *testing.T) {
	for _, v := range []struct{ pw, hash string }{
		{"secret", "Dhh5QHWdWxP6I"},
		{"password", "MaQ/4x1U4/MK2"},
		{"a", "a7ZwVPuBCebx2"},
		{"", "hZb.QsGKA7lRE"},
		{"longpassword99", "1ot07NMg5RTgY"},
		{"longpass", "1ot07NMg5RTgY"}, // only 8 characters count
		{"héllo", "CuzMqmLfiEFOA"},
		{"secret", "abNANd1rDfiNc"},
		{"", "..X8NBuQ4l6uQ"},
	} {
		got, ok := Crypt(v.pw, v.hash)
		if !ok || got != v.hash {
			t.Errorf("Crypt(%q, %q) = %q, %v", v.pw, v.hash, got, ok)
		}
	}
}

func TestBadSalt(t *testing.T) {
	for _, s := range []string{"", "a", "a!xxxxxxxxxxx", "$1$abc", "\x00\x00"} {
		if _, ok := Crypt("pw", s); ok {
			t.Errorf("salt %q accepted", s)
		}
	}
}

// TestAgainstHtpasswd hashes random passwords with the real htpasswd -d.
func TestAgainstHtpasswd(t *testing.T) {
	bin, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Skip("htpasswd (apache2-utils) not installed")
	}
	r := rand.New(rand.NewPCG(3, 4))
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#%&*+-./:;<=>?@[]^_{|}~ "
	for i := 0; i < 12; i++ {
		n := 1 + r.IntN(12)
		var b strings.Builder
		for j := 0; j < n; j++ {
			b.WriteByte(chars[r.IntN(len(chars))])
		}
		pw := b.String()
		out, err := exec.Command(bin, "-nbd", "u", pw).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		hash := strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(out), "\n", 2)[0], "u:"))
		if got, ok := Crypt(pw, hash); !ok || got != hash {
			t.Errorf("password %q: htpasswd %q, Crypt %q", pw, hash, got)
		}
	}
}

func BenchmarkCrypt(b *testing.B) {
	for b.Loop() {
		Crypt("password", "ab")
	}
}
