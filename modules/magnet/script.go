package magnet

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/golighty/golighty/core"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Limits of one script run. lighttpd runs a script to its end, however long
// it takes, in the server's only worker; golighty stops it instead (the
// request gets lighttpd's 500 for a failed script).
// maxInstructions bounds the VM instructions of one run (a few tenths of
// a second); request handling scripts need a few thousand. (A variable so
// tests can stop runaways sooner.)
var maxInstructions int64 = 2_000_000

const (
	// callStackSize bounds Lua call depth (runaway recursion).
	callStackSize = 200
	// registrySize and registryMaxSize bound the value stack (16 bytes a
	// slot): 1 MiB up front, 16 MiB at most.
	registrySize    = 64 << 10
	registryMaxSize = 1 << 20
	// maxStringRep bounds string.rep, which could otherwise allocate
	// gigabytes in one call, beyond the instruction count's reach.
	maxStringRep = 64 << 20
	// maxIdleStates bounds the Lua states kept per script for reuse.
	maxIdleStates = 64
)

// script is one Lua file: its compiled code, recompiled when the file
// changes (size, modification time or inode, checked through the stat
// cache as lighttpd does), and a pool of Lua states running it. A state is
// used by one request at a time; gopher-lua states are not goroutine-safe.
type script struct {
	path string

	mu    sync.Mutex
	proto *lua.FunctionProto
	id    fileID
	gen   uint64 // bumped on every (re)compile; states of older ones are dropped
	idle  []*state
}

type fileID struct {
	ino, size, sec, nsec int64
}

func newScript(path string) *script { return &script{path: path} }

// acquire returns a state for the script's current code, compiling the
// script first when the file changed.
func (s *script) acquire(rc *core.Request) (*state, error) {
	e, err := rc.Stat(s.path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.proto = nil
		s.idle = nil
		return nil, pathError(err)
	}
	id := fileID{int64(e.Ino), e.Size, e.MtimeSec, e.MtimeNsec}
	if s.proto == nil || id != s.id {
		if err := s.compile(); err != nil {
			s.proto = nil
			s.idle = nil
			return nil, err
		}
		s.id = id
		s.gen++
		s.idle = nil
	}
	if n := len(s.idle); n > 0 {
		st := s.idle[n-1]
		s.idle[n-1] = nil
		s.idle = s.idle[:n-1]
		return st, nil
	}
	return newState(s.proto, s.gen), nil
}

// release gives a state back for reuse, unless its run failed (a state
// stopped mid-script may hold anything) or the script changed meanwhile.
func (s *script) release(st *state, runErr error) {
	if runErr != nil {
		st.L.Close()
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.gen != s.gen || len(s.idle) >= maxIdleStates {
		st.L.Close()
		return
	}
	s.idle = append(s.idle, st)
}

func (s *script) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.idle {
		st.L.Close()
	}
	s.idle = nil
}

// compile reads and compiles the file (under s.mu).
func (s *script) compile() error {
	src, err := os.ReadFile(s.path)
	if err != nil {
		return pathError(err)
	}
	if len(src) == 0 {
		return errors.New("Bad file descriptor") // lighttpd refuses an empty script so
	}
	chunk, err := parse.Parse(bytes.NewReader(src), s.path)
	if err != nil {
		return err
	}
	proto, err := lua.Compile(chunk, s.path)
	if err != nil {
		return err
	}
	// A Lua 5.1 main chunk gets an implicit "arg" table on every call
	// (gopher-lua's CompatVarArg); Lua 5.4, which lighttpd uses, has none.
	proto.IsVarArg &^= lua.VarArgNeedsArg
	s.proto = proto
	return nil
}

// pathError gives the strerror text lighttpd logs.
func pathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if len(msg) > 0 {
			msg = string(msg[0]-('a'-'A')) + msg[1:]
		}
		return errors.New(msg)
	}
	return err
}

// budget is the context a state runs under: gopher-lua asks for Done once
// per instruction, which counts the instructions down.
type budget struct {
	left int64
	done chan struct{}
}

func (b *budget) Deadline() (time.Time, bool) { return time.Time{}, false }
func (b *budget) Value(any) any               { return nil }

func (b *budget) Done() <-chan struct{} {
	b.left--
	if b.left == 0 {
		close(b.done)
	}
	return b.done
}

func (b *budget) Err() error {
	if b.left <= 0 {
		return fmt.Errorf("script stopped after %d instructions (golighty's limit)", maxInstructions)
	}
	return nil
}

func (b *budget) reset() {
	if b.left <= 0 || b.done == nil {
		b.done = make(chan struct{})
	}
	b.left = maxInstructions
}
