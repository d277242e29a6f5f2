# Sourced by the bench scripts: memory readings of a server process.

# sample_rss pid file: writes the largest VmRSS seen to file.max, every
# 100 ms, until file is removed or pid ends (peak memory under load;
# VmHWM also counts the start-up, which for golighty is the binary's pages
# the memory governor drops within the second).
sample_rss() {
  local pid=$1 out=$2 max=0 v
  while [ -e "$out" ]; do
    v=$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null) || break
    [ -z "$v" ] && break
    [ "$v" -gt "$max" ] && max=$v && echo "$max" > "$out.max"
    sleep 0.1
  done
}

# hwm_kb pid: VmHWM, the peak since the process started.
hwm_kb() { awk '/VmHWM/{print $2}' "/proc/$1/status"; }
