#!/usr/bin/env bash
# HTTPS side by side: golighty and Debian's lighttpd (mod_openssl) serve the
# same docroot with the same TLS config on loopback. Server and client are
# pinned to different cores; each case runs RUNS times per server,
# alternating, and the median is reported with the ratio golighty/lighttpd.
#
#   bench/tls.sh [case ...]   cases:
#     small      1 KiB file, keep-alive, HTTP/1.1 over TLS (wrk, 64 connections)
#     h2small    1 KiB file over HTTP/2 by ALPN (h2load, 16 connections x 8 streams)
#     handshake  a new TLS connection (full handshake) per request (wrk, Connection: close),
#                ECDSA P-256 certificate
#     rsa        the same with an RSA-2048 certificate
#     big        100 MiB downloads over TLS (curl, one connection at a time):
#                MiB/s and server CPU seconds per GiB
#   RUNS=5 DURATION=10 bench/tls.sh
# The client (OpenSSL 3 in wrk and curl) negotiates TLS 1.3 with X25519.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-8}
BIG_COUNT=${BIG_COUNT:-5}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT_G=${PORT_G:-18443}
PORT_L=${PORT_L:-18444}
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(small h2small handshake rsa big)

for tool in wrk h2load lighttpd taskset go openssl curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool"; exit 1; }
done
[ -e /usr/lib/lighttpd/mod_openssl.so ] || { echo "missing lighttpd-mod-openssl"; exit 1; }

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www"
head -c 1024 /dev/urandom | base64 -w 0 | head -c 1024 > "$work/www/1k.txt"
if [[ " ${cases[*]} " == *" big "* ]]; then
  head -c $((100 * 1024 * 1024)) /dev/urandom > "$work/www/big.bin"
fi
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -keyout "$work/ec.key" -out "$work/ec.crt" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
  -keyout "$work/rsa.key" -out "$work/rsa.crt" 2>/dev/null

CGO_ENABLED=0 go build -trimpath -o "$work/golighty" ./cmd/golighty

conf() { # port cert [no-tickets]
  cat <<EOF
server.document-root = "$work/www"
server.bind = "127.0.0.1"
server.port = $1
server.modules = ("mod_openssl")
server.max-keep-alive-requests = 100000
server.errorlog = "$work/error-$1.log"
mimetype.assign = (".txt" => "text/plain", ".bin" => "application/x-test")
ssl.engine = "enable"
ssl.pemfile = "$work/$2.crt"
ssl.privkey = "$work/$2.key"
EOF
  # wrk keeps a connection's TLS session when it reconnects: without
  # tickets (and with lighttpd's session cache off by default) every
  # connection is a full handshake.
  [ -n "${3:-}" ] && echo 'ssl.openssl.ssl-conf-cmd = ("Options" => "-SessionTicket")'
  true
}

start_server() { # name cert [no-tickets] -> pid
  local name=$1 port=$PORT_G
  [ "$name" = lighttpd ] && port=$PORT_L
  conf "$port" "$2" "${3:-}" > "$work/$name.conf"
  if [ "$name" = golighty ]; then
    taskset -c "$SERVER_CPU" "$work/golighty" -D -f "$work/golighty.conf" --no-watch >/dev/null 2>&1 &
  else
    taskset -c "$SERVER_CPU" lighttpd -D -f "$work/lighttpd.conf" >/dev/null 2>&1 &
  fi
  local pid=$!
  for _ in $(seq 100); do
    curl -sk -o /dev/null "https://127.0.0.1:$port/1k.txt" 2>/dev/null && break
    sleep 0.05
  done
  echo "$pid"
}

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

cat > "$work/close.lua" <<'EOF'
wrk.headers["Connection"] = "close"
EOF

run_case() { # case server -> "rate cpu"
  local c=$1 name=$2 port=$PORT_G cert=ec full=
  [ "$name" = lighttpd ] && port=$PORT_L
  [ "$c" = rsa ] && cert=rsa
  { [ "$c" = handshake ] || [ "$c" = rsa ]; } && full=1
  local pid; pid=$(start_server "$name" "$cert" "$full")
  local hz; hz=$(getconf CLK_TCK)
  local t0; t0=$(cpu_ticks "$pid")
  local rate cpu
  case $c in
    small|handshake|rsa)
      local args=(-t 1 -c 64 -d "${DURATION}s") script=()
      [ "$c" != small ] && args=(-t 1 -c 16 -d "${DURATION}s") && script=(-s "$work/close.lua")
      local out; out=$(taskset -c "$CLIENT_CPU" wrk "${args[@]}" "${script[@]}" "https://127.0.0.1:$port/1k.txt" 2>&1)
      local t1; t1=$(cpu_ticks "$pid")
      rate=$(awk '/Requests\/sec/{print $2}' <<<"$out")
      local total; total=$(awk '/requests in/{print $1}' <<<"$out")
      # server CPU microseconds per request
      cpu=$(awk -v a="$t0" -v b="$t1" -v n="$total" -v hz="$hz" 'BEGIN{ if (n>0) printf "%.1f", (b-a)/hz*1e6/n; else print "nan" }')
      ;;
    h2small)
      local out; out=$(taskset -c "$CLIENT_CPU" h2load -c 16 -m 8 -D "$DURATION" "https://127.0.0.1:$port/1k.txt" 2>&1)
      local t1; t1=$(cpu_ticks "$pid")
      rate=$(awk '/^finished in/{print $4}' <<<"$out")
      local total; total=$(awk '/^requests:/{print $8}' <<<"$out")
      cpu=$(awk -v a="$t0" -v b="$t1" -v n="$total" -v hz="$hz" 'BEGIN{ if (n>0) printf "%.1f", (b-a)/hz*1e6/n; else print "nan" }')
      ;;
    big)
      local start end
      start=$(date +%s.%N)
      for _ in $(seq "$BIG_COUNT"); do
        taskset -c "$CLIENT_CPU" curl -sk --http1.1 -o /dev/null "https://127.0.0.1:$port/big.bin"
      done
      end=$(date +%s.%N)
      local t1; t1=$(cpu_ticks "$pid")
      # MiB/s, and server CPU seconds per GiB sent
      rate=$(awk -v s="$start" -v e="$end" -v n="$BIG_COUNT" 'BEGIN{ printf "%.0f", n*100/(e-s) }')
      cpu=$(awk -v a="$t0" -v b="$t1" -v n="$BIG_COUNT" -v hz="$hz" 'BEGIN{ printf "%.3f", (b-a)/hz/(n*100/1024) }')
      ;;
  esac
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$rate $cpu"
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

printf '%-10s %-9s %12s %14s\n' case server rate cpu
for c in "${cases[@]}"; do
  declare -A r=()
  for i in $(seq "$RUNS"); do
    for s in lighttpd golighty; do
      read -r q cpu < <(run_case "$c" "$s")
      r[$s.q]+="$q "; r[$s.c]+="$cpu "
    done
  done
  unit="req/s"; cunit="cpu-us/req"
  [ "$c" = big ] && unit="MiB/s" && cunit="cpu-s/GiB"
  for s in lighttpd golighty; do
    q=$(tr ' ' '\n' <<<"${r[$s.q]}" | grep . | median)
    cpu=$(tr ' ' '\n' <<<"${r[$s.c]}" | grep . | median)
    printf '%-10s %-9s %12s %s %10s %s   runs: %s\n' "$c" "$s" "$q" "$unit" "$cpu" "$cunit" "${r[$s.q]}"
    declare "med_${s}_q=$q" "med_${s}_c=$cpu"
  done
  awk -v g="$med_golighty_q" -v l="$med_lighttpd_q" -v gc="$med_golighty_c" -v lc="$med_lighttpd_c" -v c="$c" \
    'BEGIN{ printf "%-10s ratio     %11.2fx  cpu %.2fx   (golighty/lighttpd, median of runs)\n", c, g/l, gc/lc }'
  unset r
done
