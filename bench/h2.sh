#!/usr/bin/env bash
# HTTP/2 side by side: golighty and Debian's lighttpd serve the same docroot
# over h2c (prior knowledge) on loopback; h2load (nghttp2-client) drives each
# in turn, pinned to another core than the server. Each case runs RUNS times
# per server, alternating servers; the table shows medians, the
# golighty/lighttpd ratio and the server's CPU time per request (from
# /proc/PID/stat). Machines here are noisy: read the ratio, not the numbers.
#
#   bench/h2.sh [case ...]    cases: small (1 KiB files, 16 connections x 8
#                             streams) big (8 downloads of 100 MiB, 4 at a time)
#   RUNS=5 DURATION=10 bench/h2.sh small
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-8}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
# Free loopback ports (other benchmarks may hold fixed ones).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT_G=${PORT_G:-$(free_port)}
PORT_L=${PORT_L:-$(free_port)}
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(small big)

for tool in h2load lighttpd taskset go curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install nghttp2-client lighttpd util-linux curl)"; exit 1; }
done

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www"
for i in $(seq 0 99); do head -c 1024 /dev/urandom > "$work/www/f$i.txt"; done
if [[ " ${cases[*]} " == *" big "* ]]; then
  head -c $((100 * 1024 * 1024)) /dev/urandom > "$work/www/big.bin"
fi
# h2load cycles through these URIs (the first one names the server).
for port in "$PORT_G" "$PORT_L"; do
  for i in $(seq 0 99); do echo "http://127.0.0.1:$port/f$i.txt"; done > "$work/uris-$port"
done

CGO_ENABLED=0 go build -trimpath -o "$work/golighty" ./cmd/golighty

conf() { # port
  cat <<EOF
server.document-root = "$work/www"
server.bind = "127.0.0.1"
server.port = $1
server.errorlog = "$work/error-$1.log"
mimetype.assign = (".txt" => "text/plain", ".bin" => "application/x-test")
EOF
}
conf "$PORT_G" > "$work/golighty.conf"
conf "$PORT_L" > "$work/lighttpd.conf"

start_server() { # name -> pid
  local name=$1 port=$PORT_G
  if [ "$name" = golighty ]; then
    taskset -c "$SERVER_CPU" "$work/golighty" -D -f "$work/golighty.conf" --no-watch >/dev/null 2>&1 &
  else
    port=$PORT_L
    taskset -c "$SERVER_CPU" lighttpd -D -f "$work/lighttpd.conf" >/dev/null 2>&1 &
  fi
  local pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null --http2-prior-knowledge "http://127.0.0.1:$port/f0.txt" 2>/dev/null && break
    sleep 0.05
  done
  echo "$pid"
}

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
# shellcheck source=bench/rss.sh
. bench/rss.sh # (the script runs from the repository root)

run_case() { # case server -> "req/s MB/s cpu_us_per_req peak_rss_kb hwm_kb"
  local c=$1 name=$2 port=$PORT_G
  [ "$name" = lighttpd ] && port=$PORT_L
  local pid; pid=$(start_server "$name")
  local args=()
  case $c in
    small) args=(-D "$DURATION" --warm-up-time=1 -c 16 -m 8 -i "$work/uris-$port") ;;
    big) args=(-n 8 -c 4 -m 1 "http://127.0.0.1:$port/big.bin") ;;
  esac
  local peakf="$work/peak.$name"
  echo 0 > "$peakf.max"; touch "$peakf"
  sample_rss "$pid" "$peakf" &
  local sampler=$!
  local t0; t0=$(cpu_ticks "$pid")
  local out; out=$(taskset -c "$CLIENT_CPU" h2load "${args[@]}" 2>&1)
  local t1; t1=$(cpu_ticks "$pid")
  rm -f "$peakf"; wait "$sampler" 2>/dev/null || true
  local rss; rss=$(cat "$peakf.max")
  local hwm; hwm=$(hwm_kb "$pid")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # "finished in 8.00s, 51234.50 req/s, 60.55MB/s"
  local reqs mb done hz cpu_us
  reqs=$(awk '/^finished in/{gsub(",","",$4); print $4}' <<<"$out")
  mb=$(awk '/^finished in/{v=$6; if (v ~ /GB/) v*=1024; else if (v ~ /KB/) v/=1024; else v+=0; print v}' <<<"$out")
  done=$(awk '/^requests:/{print $6}' <<<"$out")
  if ! grep -q "0 failed, 0 errored" <<<"$out"; then echo "h2load reported failures for $name:" >&2; grep '^requests:' <<<"$out" >&2; fi
  hz=$(getconf CLK_TCK)
  cpu_us=$(awk -v a="$t0" -v b="$t1" -v n="$done" -v hz="$hz" 'BEGIN{ if (n>0) printf "%.2f", (b-a)/hz*1e6/n; else print "nan" }')
  echo "$reqs $mb $cpu_us $rss $hwm"
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

printf '%-6s %-9s %12s %10s %12s %10s %10s\n' case server req/s MB/s cpu-us/req peak-MB hwm-MB
for c in "${cases[@]}"; do
  declare -A r=()
  for i in $(seq "$RUNS"); do
    for s in lighttpd golighty; do
      read -r q m cpu rss hwm < <(run_case "$c" "$s")
      r[$s.q]+="$q "; r[$s.m]+="$m "; r[$s.c]+="$cpu "; r[$s.r]+="$rss "; r[$s.h]+="$hwm "
    done
  done
  for s in lighttpd golighty; do
    q=$(tr ' ' '\n' <<<"${r[$s.q]}" | grep . | median)
    m=$(tr ' ' '\n' <<<"${r[$s.m]}" | grep . | median)
    cpu=$(tr ' ' '\n' <<<"${r[$s.c]}" | grep . | median)
    rss=$(tr ' ' '\n' <<<"${r[$s.r]}" | grep . | sort -g | tail -1)
    hwm=$(tr ' ' '\n' <<<"${r[$s.h]}" | grep . | sort -g | tail -1)
    printf '%-6s %-9s %12s %10s %12s %10.1f %10.1f\n' "$c" "$s" "$q" "$m" "$cpu" \
      "$(awk -v k="$rss" 'BEGIN{print k/1024}')" "$(awk -v k="$hwm" 'BEGIN{print k/1024}')"
    declare "med_${s}_q=$q" "med_${s}_m=$m" "med_${s}_c=$cpu"
  done
  awk -v g="$med_golighty_q" -v l="$med_lighttpd_q" -v gm="$med_golighty_m" -v lm="$med_lighttpd_m" \
    -v gc="$med_golighty_c" -v lc="$med_lighttpd_c" -v c="$c" \
    'BEGIN{ printf "%-6s ratio     %12.2fx %9.2fx %11.2fx   (golighty/lighttpd, median of runs; CPU: lower is better)\n", c, g/l, gm/lm, gc/lc }'
  unset r
done
