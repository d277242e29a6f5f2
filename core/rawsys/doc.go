// Package rawsys makes the socket system calls of golighty's hot paths
// without the Go scheduler's system-call bookkeeping.
//
// A call through syscall.Syscall marks its P as in a system call; if the
// call lasts longer than sysmon's 20 µs tick (a write that wakes a peer
// on the same core, which then runs first, is enough), sysmon hands the P
// to another thread, and the runtime pays thread wake-ups and context
// switches to get it back. Each such call after an idle spell also wakes
// sysmon itself, which then polls every 20 µs for a while. The calls here
// are made on non-blocking descriptors (the netpoller does the waiting,
// through syscall.RawConn), so they never block and need none of that.
//
// Under the race detector the calls go through package syscall instead:
// its Read and Write tell the detector that I/O orders the goroutines on
// both ends, as net.Conn does, so tests that hand state over through a
// connection are not reported.
package rawsys
