package main

import (
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
)

// sdNotify tells systemd (Type=notify, NOTIFY_SOCKET set) about the
// server's state; without NOTIFY_SOCKET it does nothing.
func sdNotify(state string) {
	daemon.SdNotify(false, state)
}

// sdReload reports a reload's progress: RELOADING=1 with the monotonic time
// systemd matches it by (Type=notify-reload), then READY=1 once the new
// config serves or was refused, so `systemctl reload` returns then.
func sdReload(starting bool, err error) {
	switch {
	case starting:
		sdNotify(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec() + "STATUS=reloading the configuration")
	case err != nil:
		// One line: systemctl status shows STATUS= as it is.
		msg := strings.ReplaceAll(err.Error(), "\n", " ")
		sdNotify(daemon.SdNotifyReady + "\nSTATUS=reload refused, still serving the previous configuration: " + msg)
	default:
		sdNotify(daemon.SdNotifyReady + "\nSTATUS=serving")
	}
}
