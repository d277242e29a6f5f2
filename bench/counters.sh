#!/usr/bin/env bash
# What the core's request counters cost on the cheapest request: the 1 KiB
# keep-alive GET served by golighty built from BASE (default: main, without
# the counters) and from the working tree, alternating, RUNS times each.
# Reports medians of requests/s and of server CPU time per request (from
# /proc/PID/stat), and the ratios HEAD/BASE. The server and wrk are pinned
# to different cores; the machine may be shared: read the ratios.
#
#   BASE=main RUNS=5 DURATION=8 bench/counters.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=${BASE:-main}
RUNS=${RUNS:-5}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT=${PORT:-18090}

for tool in wrk taskset go git; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
done

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www" "$work/base"
head -c 1024 /dev/urandom | base64 -w 0 | head -c 1024 > "$work/www/1k.txt"
git archive "$BASE" | tar -x -C "$work/base"
(cd "$work/base" && CGO_ENABLED=0 go build -trimpath -o "$work/golighty-base" ./cmd/golighty)
CGO_ENABLED=0 go build -trimpath -o "$work/golighty-head" ./cmd/golighty
cat > "$work/conf" <<EOF
server.document-root = "$work/www"
server.bind = "127.0.0.1"
server.port = $PORT
server.max-keep-alive-requests = 100000
server.errorlog = "$work/error.log"
mimetype.assign = (".txt" => "text/plain")
EOF

run() { # binary -> "reqs cpu_us_per_req"
  taskset -c "$SERVER_CPU" "$1" -D -f "$work/conf" --no-watch >/dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/1k.txt" 2>/dev/null && break
    sleep 0.05
  done
  local t0; t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
  local out; out=$(taskset -c "$CLIENT_CPU" wrk -t 1 -c "$CONNS" -d "${DURATION}s" "http://127.0.0.1:$PORT/1k.txt")
  local t1; t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  local reqs total hz
  reqs=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  total=$(awk '/requests in/{print $1}' <<<"$out")
  hz=$(getconf CLK_TCK)
  echo "$reqs $(awk -v a="$t0" -v b="$t1" -v n="$total" -v hz="$hz" 'BEGIN{printf "%.3f", (b-a)/hz*1e6/n}')"
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

declare -A q=() c=()
for _ in $(seq "$RUNS"); do
  for v in base head; do
    read -r r u < <(run "$work/golighty-$v")
    q[$v]+="$r "; c[$v]+="$u "
  done
done
uptime
printf '%-5s %12s %12s\n' build req/s cpu-us/req
for v in base head; do
  printf '%-5s %12s %12s\n' "$v" "$(tr ' ' '\n' <<<"${q[$v]}" | grep . | median)" "$(tr ' ' '\n' <<<"${c[$v]}" | grep . | median)"
done
awk -v qb="$(tr ' ' '\n' <<<"${q[base]}" | grep . | median)" -v qh="$(tr ' ' '\n' <<<"${q[head]}" | grep . | median)" \
  -v cb="$(tr ' ' '\n' <<<"${c[base]}" | grep . | median)" -v ch="$(tr ' ' '\n' <<<"${c[head]}" | grep . | median)" \
  'BEGIN{ printf "ratio head/base: req/s %.3fx, cpu per request %.3fx\n", qh/qb, ch/cb }'
