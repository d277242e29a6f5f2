package core

import (
	"net"
	"os"
	"strconv"
	"sync"
)

// listenFDsStart is the first descriptor systemd passes (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// inherited are the listening sockets systemd passed (LISTEN_PID/LISTEN_FDS),
// read once: a reload keeps using them, as the process keeps its sockets.
var inherited = sync.OnceValue(func() []net.Listener {
	if os.Getenv("LISTEN_PID") != strconv.Itoa(os.Getpid()) {
		return nil
	}
	n, err := strconv.Atoi(os.Getenv("LISTEN_FDS"))
	if err != nil || n <= 0 {
		return nil
	}
	// Children (backends) must not believe the sockets are theirs.
	os.Unsetenv("LISTEN_PID")
	os.Unsetenv("LISTEN_FDS")
	os.Unsetenv("LISTEN_FDNAMES")
	var out []net.Listener
	for fd := listenFDsStart; fd < listenFDsStart+n; fd++ {
		f := os.NewFile(uintptr(fd), "systemd-socket-"+strconv.Itoa(fd))
		l, err := net.FileListener(f)
		f.Close() // FileListener dups the descriptor
		if err == nil {
			out = append(out, l)
		}
	}
	return out
})

// activationSpecs lists the inherited sockets as listen specs: one whose
// address equals a configured socket replaces it, the others are served
// too, with a token made from their address (lighttpd does the same).
func activationSpecs(specs []ListenSpec) []ListenSpec {
	for i, l := range inherited() {
		key := "fd:" + strconv.Itoa(i)
		matched := false
		for j := range specs {
			if sameAddr(specs[j], l.Addr()) {
				specs[j].Network, specs[j].Address = "inherited", key
				matched = true
			}
		}
		if !matched {
			tok := l.Addr().String()
			if ta, ok := l.Addr().(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
				tok = ":" + strconv.Itoa(ta.Port)
			}
			specs = append(specs, ListenSpec{Token: tok, Network: "inherited", Address: key, FD: -1})
		}
	}
	return specs
}

func sameAddr(sp ListenSpec, a net.Addr) bool {
	switch a := a.(type) {
	case *net.UnixAddr:
		return sp.Network == "unix" && sp.Address == a.Name
	case *net.TCPAddr:
		host, port, err := net.SplitHostPort(sp.Address)
		if err != nil || port != strconv.Itoa(a.Port) {
			return false
		}
		ip := net.ParseIP(host)
		return ip != nil && (ip.Equal(a.IP) || (ip.IsUnspecified() && a.IP.IsUnspecified()))
	}
	return false
}

// inheritedListener returns the socket a spec of network "inherited" names.
func inheritedListener(sp ListenSpec) (net.Listener, bool) {
	i, err := strconv.Atoi(sp.Address[len("fd:"):])
	ls := inherited()
	if err != nil || i < 0 || i >= len(ls) {
		return nil, false
	}
	return ls[i], true
}
