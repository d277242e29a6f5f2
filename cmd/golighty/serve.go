package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/golighty/golighty/core"
	"github.com/golighty/golighty/core/logsink"
	"github.com/golighty/golighty/core/memgov"
	"github.com/golighty/golighty/lighttpdconf"
)

// daemonEnv marks the re-executed background process; daemonReadyFD is the
// pipe on which it tells the foreground parent that it is serving.
const (
	daemonEnv     = "GOLIGHTY_DAEMON_CHILD"
	daemonReadyFD = 3
)

// serve runs the server until a stop signal (errors-and-logs.md §3.1, §4).
func serve(o *options, snap *core.Snapshot, stderr io.Writer) int {
	if !o.foreground && os.Getenv(daemonEnv) == "" {
		return daemonize(stderr)
	}
	// Signals are caught before anyone can learn the pid (the pid file,
	// a waiting daemonize parent): a SIGTERM right after start must still
	// stop the server cleanly and remove the pid file.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1, syscall.SIGHUP)
	signal.Ignore(syscall.SIGPIPE)

	srvConf := &snap.Core.Server
	if err := writePIDFile(srvConf.PIDFile); err != nil {
		fmt.Fprintln(stderr, err)
		return exitErr
	}
	defer removePIDFile(srvConf.PIDFile)

	logs := snap.Shared().Logs()
	defer logs.Close()
	logger, err := openErrorLog(logs, srvConf, o.foreground)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitErr
	}
	slog.SetDefault(logger)
	startDebug(logger)

	srv := core.NewServer(snap, logger)
	if err := srv.Bind(); err != nil {
		logger.Error(err.Error())
		return exitErr
	}
	if err := dropPrivileges(srvConf); err != nil {
		logger.Error(err.Error())
		srv.Close()
		return exitErr
	}
	if err := srv.Start(); err != nil { // accepts only now: nothing is served as root
		logger.Error(err.Error())
		srv.Close()
		return exitErr
	}
	abs, _ := filepath.Abs(o.confFile)
	reloader := &core.Reloader{
		Loader: &core.Loader{Path: abs, Opts: lighttpdconf.Options{Stderr: stderr}, Shared: snap.Shared()},
		Server: srv,
		Log:    logger,
		Notify: sdReload,
	}
	reloader.Prime(snap.Conf)
	watcher := core.NewWatcher(reloader, logger, o.noWatch)
	// Watching starts before the server says it is ready: an edit made
	// right after is not missed.
	watchErr := watcher.Prepare(snap.Conf)
	logger.Info("server started (" + core.ServerTag + ")")
	for _, w := range snap.Warnings {
		logger.Warn(w.String())
	}
	if o.memory == memgov.Lean {
		// The configuration is loaded, every module initialised and the
		// watcher set up: the garbage and the pages only that touched
		// leave the resident set before the first client comes (the
		// governor does it again after reloads).
		memgov.Settle()
	}
	notifyReady()
	sdNotify("READY=1\nSTATUS=serving")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		err := watchErr
		if err == nil {
			err = watcher.Run(ctx, snap.Conf)
		}
		if err != nil {
			logger.Error("config watcher: " + err.Error())
		}
	}()
	go memgov.New(o.memory, func() any { return srv.Runtime().Current() }).Run(ctx)

	var idle <-chan time.Time
	if o.idleSecs > 0 {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		idle = t.C
	}
	lastBusy := time.Now()
	for {
		select {
		case <-idle:
			if srv.OpenConns() > 0 {
				lastBusy = time.Now()
			} else if time.Since(lastBusy) >= time.Duration(o.idleSecs)*time.Second {
				logger.Info(fmt.Sprintf("[note] idle timeout %ds exceeded, initiating graceful shutdown", o.idleSecs))
				sdNotify("STOPPING=1")
				gracefulStop(srv, srvConf, logger)
				logger.Info("server stopped after idle timeout")
				return 0
			}
		case sig := <-sigs:
			switch sig {
			case syscall.SIGUSR1:
				watcher.ReloadNow()
			case syscall.SIGHUP:
				if err := logs.ReopenAll(); err != nil {
					logger.Error("reopening logs: " + err.Error())
				}
				logger.Info(fmt.Sprintf("logfiles cycled UID = %d PID = %d", os.Getuid(), os.Getpid()))
			case syscall.SIGINT:
				logger.Info("[note] graceful shutdown started")
				sdNotify("STOPPING=1")
				go func() {
					<-sigs // a second signal during the graceful stop: stop now
					srv.Close()
				}()
				gracefulStop(srv, srvConf, logger)
				logger.Info(fmt.Sprintf("server stopped by UID = %d PID = %d", os.Getuid(), os.Getpid()))
				return 0
			case syscall.SIGTERM:
				sdNotify("STOPPING=1")
				srv.Close()
				logger.Info(fmt.Sprintf("server stopped by UID = %d PID = %d", os.Getuid(), os.Getpid()))
				return 0
			}
		}
	}
}

// gracefulStop lets in-flight requests finish within
// server.graceful-shutdown-timeout (0 waits as long as they need).
func gracefulStop(srv *core.Server, conf *core.ServerSettings, logger *slog.Logger) {
	ctx := context.Background()
	if conf.GracefulShutdownSecs > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(conf.GracefulShutdownSecs)*time.Second)
		defer cancel()
	}
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		logger.Error("graceful shutdown: " + err.Error())
	}
}

// openErrorLog opens server.errorlog (a file, "|command", or syslog); with no
// error log the messages go to stderr under -D, as lighttpd.
func openErrorLog(p *logsink.Pool, conf *core.ServerSettings, foreground bool) (*slog.Logger, error) {
	spec := conf.ErrorLog // "" is stderr
	switch {
	case conf.ErrorLogUseSyslog:
		spec = logsink.SyslogSpec(conf.SyslogFacility, 3)
	case spec == "" && !foreground:
		spec = "/dev/null"
	}
	sink, err := p.Acquire(spec)
	if err != nil {
		return nil, err
	}
	h := logsink.NewErrorLogHandler(sink, logsink.WithHighPrecision(conf.ErrorLogHighPrecision))
	return slog.New(h), nil
}

// daemonize re-executes golighty in a new session, detached from the
// terminal, and waits until the child reports that it serves (Go cannot
// fork, so this replaces lighttpd's double fork).
func daemonize(stderr io.Writer) int {
	r, w, err := os.Pipe()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitErr
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitErr
	}
	cmd := exec.Command(self, os.Args[1:]...)
	cmd.Env = append(os.Environ(), daemonEnv+"=1")
	cmd.ExtraFiles = []*os.File{w} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, err)
		return exitErr
	}
	w.Close()
	buf := make([]byte, 2)
	n, _ := io.ReadFull(r, buf)
	if n == 2 && string(buf) == "ok" {
		return 0
	}
	fmt.Fprintln(stderr, "daemonized server failed to start; check error log for details")
	return exitErr
}

// notifyReady tells a waiting daemonize parent that the child serves.
func notifyReady() {
	if os.Getenv(daemonEnv) == "" {
		return
	}
	f := os.NewFile(daemonReadyFD, "ready")
	f.Write([]byte("ok"))
	f.Close()
}

func writePIDFile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("opening pid-file failed: %s %v", path, err)
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%d\n", os.Getpid())
	return err
}

func removePIDFile(path string) {
	if path != "" {
		os.Remove(path)
	}
}

// dropPrivileges applies server.groupname, server.chroot and
// server.username when running as root, after the sockets are bound.
func dropPrivileges(conf *core.ServerSettings) error {
	if os.Geteuid() != 0 {
		return nil
	}
	var uid, gid = -1, -1
	if conf.Groupname != "" {
		g, err := user.LookupGroup(conf.Groupname)
		if err != nil {
			return fmt.Errorf("can't find groupname %s: %v", conf.Groupname, err)
		}
		gid, _ = strconv.Atoi(g.Gid)
		if gid == 0 {
			return errors.New("I will not set gid to 0")
		}
	}
	if conf.Username != "" {
		u, err := user.Lookup(conf.Username)
		if err != nil {
			return fmt.Errorf("can't find username %s: %v", conf.Username, err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		if uid == 0 {
			return errors.New("I will not set uid to 0. Perhaps you should comment out server.username in lighttpd.conf")
		}
		if gid < 0 {
			gid, _ = strconv.Atoi(u.Gid)
		}
	}
	if gid >= 0 {
		if err := syscall.Setgroups([]int{gid}); err != nil {
			return fmt.Errorf("setgroups: %v", err)
		}
		if err := syscall.Setgid(gid); err != nil {
			return fmt.Errorf("setgid: %v", err)
		}
	}
	if conf.Chroot != "" {
		if err := syscall.Chroot(conf.Chroot); err != nil {
			return fmt.Errorf("chroot: %v", err)
		}
		if err := os.Chdir("/"); err != nil {
			return fmt.Errorf("chdir /: %v", err)
		}
	}
	if uid >= 0 {
		if err := syscall.Setuid(uid); err != nil {
			return fmt.Errorf("setuid: %v", err)
		}
	}
	return nil
}
