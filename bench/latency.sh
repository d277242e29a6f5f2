#!/usr/bin/env bash
# Small requests next to downloads, side by side: golighty and Debian's
# lighttpd serve the same docroot; while bench/dl keeps 8 downloads of a
# 100 MiB file going (1 MiB reads, the client is not the bottleneck), wrk
# asks 4 connections' worth of a 1 KiB file and reports its latency. The
# server is pinned to one core, both clients to another. Each server runs
# RUNS times, alternating; the table shows the medians of the runs. What it
# watches: whether a download that never has to wait (its socket always has
# room) keeps the small requests waiting (see core/netyield).
#
#   bench/latency.sh
#   RUNS=5 DURATION=10 bench/latency.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT_G=${PORT_G:-$(free_port)}
PORT_L=${PORT_L:-$(free_port)}

for tool in wrk lighttpd taskset go curl python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk lighttpd util-linux curl)"; exit 1; }
done

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www"
head -c 1024 /dev/urandom > "$work/www/1k.txt"
head -c $((100 * 1024 * 1024)) /dev/urandom > "$work/www/big.bin"

CGO_ENABLED=0 go build -trimpath -o "$work/golighty" ./cmd/golighty
go build -o "$work/dl" ./bench/dl

conf() { # port
  cat <<CONF
server.document-root = "$work/www"
server.bind = "127.0.0.1"
server.port = $1
server.errorlog = "$work/error-$1.log"
server.max-keep-alive-requests = 100000
mimetype.assign = (".txt" => "text/plain", ".bin" => "application/x-test")
CONF
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
    curl -s -o /dev/null "http://127.0.0.1:$port/1k.txt" 2>/dev/null && break
    sleep 0.05
  done
  echo "$pid"
}

# wrk's latency figures in microseconds ("512.00us", "1.20ms", "1.01s").
to_us() { awk '{v=$1; if (v ~ /us$/) v+=0; else if (v ~ /ms$/) v*=1000; else if (v ~ /s$/) v*=1e6; print v}'; }

run() { # server -> "p50 p90 p99 max req/s MiB/s" (latencies in µs)
  local name=$1 port=$PORT_G
  [ "$name" = lighttpd ] && port=$PORT_L
  local pid; pid=$(start_server "$name")
  taskset -c "$CLIENT_CPU" "$work/dl" -c 8 -d "$((DURATION + 2))s" "http://127.0.0.1:$port/big.bin" > "$work/dl.out" 2>&1 &
  local dlpid=$!
  sleep 1
  local out; out=$(taskset -c "$CLIENT_CPU" wrk -t1 -c4 -d"${DURATION}s" --latency "http://127.0.0.1:$port/1k.txt")
  wait "$dlpid" || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local p50 p90 p99 max rps mibps
  p50=$(awk '$1=="50%"{print $2}' <<<"$out" | to_us)
  p90=$(awk '$1=="90%"{print $2}' <<<"$out" | to_us)
  p99=$(awk '$1=="99%"{print $2}' <<<"$out" | to_us)
  max=$(awk '$1=="Latency"{print $4}' <<<"$out" | to_us)
  rps=$(awk '/^Requests\/sec:/{print $2}' <<<"$out")
  mibps=$(tail -1 "$work/dl.out" | sed -n 's/.*mibps=\([0-9.]*\).*/\1/p')
  echo "$p50 $p90 $p99 $max $rps ${mibps:-nan}"
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)  RUNS=$RUNS DURATION=$DURATION"
printf '%-9s %10s %10s %10s %10s %12s %12s\n' server p50-us p90-us p99-us max-us 1k-req/s dl-MiB/s
declare -A r=()
for _ in $(seq "$RUNS"); do
  for s in lighttpd golighty; do
    read -r a b c d e f < <(run "$s")
    r[$s.a]+="$a " r[$s.b]+="$b " r[$s.c]+="$c " r[$s.d]+="$d " r[$s.e]+="$e " r[$s.f]+="$f "
  done
done
for s in lighttpd golighty; do
  m=()
  for k in a b c d e f; do m+=("$(tr ' ' '\n' <<<"${r[$s.$k]}" | grep . | median)"); done
  printf '%-9s %10s %10s %10s %10s %12s %12s\n' "$s" "${m[@]}"
done
