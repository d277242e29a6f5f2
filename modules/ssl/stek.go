package ssl

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Session ticket encryption keys (STEK), rotated as lighttpd's mod_openssl
// does: without ssl.stek-file a new key every 8 hours, each valid 24 hours,
// three kept; with ssl.stek-file the file's key replaces the newest when the
// file changes, activated and expired at the times it names. Checks run at
// start and every 64 seconds. The manager is process-wide (one per
// ssl.stek-file), shared by every socket and kept across reloads, so
// tickets survive them.
const (
	stekRotate   = 8 * time.Hour
	stekLifetime = 24 * time.Hour
	stekCheck    = 64 * time.Second
)

type stekKey struct {
	active, expire int64    // unix seconds
	secret         [32]byte // crypto/tls's ticket key, derived from the STEK
}

type stekManager struct {
	file string

	mu      sync.Mutex
	keys    [3]stekKey // newest first
	rotated int64      // when the newest key was put in (stek_rotate_ts)
	lastNow int64      // to notice the clock going back

	codec atomic.Pointer[tls.Config] // holds the keys as crypto/tls wants them
	stop  chan struct{}
	log   func() *slog.Logger
}

func newStekManager(file string) *stekManager {
	m := &stekManager{file: file, stop: make(chan struct{}), log: slog.Default}
	m.check(time.Now())
	go m.run()
	return m
}

func (m *stekManager) run() {
	t := time.NewTicker(stekCheck)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case now := <-t.C:
			m.check(now)
		}
	}
}

func (m *stekManager) close() { close(m.stop) }

// check is lighttpd's mod_openssl_session_ticket_key_check.
func (m *stekManager) check(t time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := t.Unix()
	if m.lastNow > now && m.lastNow-now > int64(stekRotate/time.Second) {
		m.rotated = 0 // the clock went back: rotate
	}
	m.lastNow = now
	var next *stekKey
	if m.file != "" {
		if fi, err := os.Stat(m.file); err == nil && fi.ModTime().Unix() > m.rotated {
			if k, err := readStekFile(m.file); err == nil {
				next = &k
			} else {
				m.log().Error(fmt.Sprintf("SSL: %v", err))
			}
		}
		for i := range m.keys {
			if m.keys[i].expire != 0 && m.keys[i].expire < now {
				m.keys[i] = stekKey{}
			}
		}
	} else if m.rotated == 0 || now-int64(stekRotate/time.Second) >= m.rotated {
		k := stekKey{active: now, expire: now + int64(stekLifetime/time.Second)}
		if _, err := rand.Read(k.secret[:]); err != nil {
			return
		}
		next = &k
	}
	if next != nil {
		m.keys[2], m.keys[1], m.keys[0] = m.keys[1], m.keys[0], *next
		m.rotated = now
	}
	m.publish(now)
}

// publish hands crypto/tls the keys of now.
func (m *stekManager) publish(now int64) {
	c := &tls.Config{}
	c.SetSessionTicketKeys(m.ticketKeys(now))
	m.codec.Store(c)
}

// ticketKeys lists the key to encrypt new tickets with (the newest active
// one) followed by every other unexpired key, to decrypt.
func (m *stekManager) ticketKeys(now int64) [][32]byte {
	var list [][32]byte
	enc := -1
	for i, k := range m.keys {
		if k.expire != 0 && k.active <= now && k.expire >= now {
			enc = i
			list = append(list, k.secret)
			break
		}
	}
	for i, k := range m.keys {
		if i != enc && k.expire != 0 && k.expire >= now {
			list = append(list, k.secret)
		}
	}
	if enc < 0 {
		// No key may issue tickets now; crypto/tls cannot skip issuing
		// one, so an ephemeral key is used (nothing else can read it).
		var eph [32]byte
		rand.Read(eph[:])
		list = append([][32]byte{eph}, list...)
	}
	return list
}

func (m *stekManager) wrap(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	return m.codec.Load().EncryptTicket(cs, ss)
}

func (m *stekManager) unwrap(identity []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
	return m.codec.Load().DecryptTicket(identity, cs)
}

// readStekFile reads lighttpd's STEK file: format version (0), activation
// and expiration times (native 32-bit integers), then 80 bytes of key name,
// HMAC and AES keys, which derive crypto/tls's 32-byte ticket key.
func readStekFile(path string) (stekKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return stekKey{}, err
	}
	if len(b) < 92 {
		return stekKey{}, fmt.Errorf("ssl.stek-file %s: %d bytes, want 92", path, len(b))
	}
	if v := int32(binary.NativeEndian.Uint32(b[0:4])); v != 0 {
		return stekKey{}, fmt.Errorf("ssl.stek-file %s: unknown format version %d", path, v)
	}
	k := stekKey{
		active: int64(int32(binary.NativeEndian.Uint32(b[4:8]))),
		expire: int64(int32(binary.NativeEndian.Uint32(b[8:12]))),
		secret: sha256.Sum256(b[12:92]),
	}
	clear(b)
	return k, nil
}
