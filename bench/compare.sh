#!/usr/bin/env bash
# Side-by-side benchmark: golighty and Debian's lighttpd serve the same
# docroot with the same config on loopback. Small responses are driven by
# wrk; downloads (big, xsendfile, readfile, slow) and the idle-connection
# memory case by bench/dl, which reads 1 MiB per read(2) so the client is
# not the bottleneck. Server and client are pinned to different cores. Each
# case runs RUNS times per server, alternating servers, and the median is
# reported with the ratios measured in the same run. Besides throughput,
# every case reports the server's CPU time per request (or per GiB) taken
# from /proc/<pid> over the measured interval, and its peak RSS sampled
# during the load: read a client-bound case by its CPU, not its rate (see
# bench/README.md).
#
#   bench/compare.sh [case ...]     cases: 1k 100k noka 304 big php phpkeep xsendfile readfile
#                                   slow idle authbcrypt authapr1 authplain
#                                   (default: all; php, xsendfile, readfile and
#                                   slow need php-cgi, auth cases htpasswd)
# slow: 1,000 connections paced to 256 KiB/s each download a 10 MiB file
# that PHP hands off with X-Sendfile (SLOW_CONNS, SLOW_RATE, SLOW_DURATION).
# idle: IDLE_CONNS (8,000) connections are opened, half of them make one
# request, and the server's RSS is read with all of them open: memory per
# idle connection.
# The auth cases fetch the 1 KiB file with keep-alive and Basic credentials:
# authbcrypt and authapr1 from htpasswd files (bcrypt as `htpasswd -B`
# writes it, apr1 as `htpasswd -m`) with auth.cache, authplain from the
# plain backend without a cache (each login reads the user file).
# phpkeep is PHP hello through a backend with golighty's "keep-conn" =>
# "enable" (connection reuse); lighttpd ignores that key, so both servers
# still read the same file.
#   RUNS=5 DURATION=10 CONNS=64 bench/compare.sh
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
DURATION=${DURATION:-8}
CONNS=${CONNS:-64}
SLOW_CONNS=${SLOW_CONNS:-1000}
SLOW_RATE=${SLOW_RATE:-256k}
SLOW_DURATION=${SLOW_DURATION:-15}
IDLE_CONNS=${IDLE_CONNS:-8000}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
PORT_G=${PORT_G:-18080}
PORT_L=${PORT_L:-18081}
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(1k 100k noka 304 big php phpkeep xsendfile readfile slow idle authbcrypt authapr1 authplain)

for tool in wrk lighttpd taskset go; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk lighttpd util-linux)"; exit 1; }
done

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/www"
head -c 1024 /dev/urandom | base64 -w 0 | head -c 1024 > "$work/www/1k.txt"
head -c 102400 /dev/urandom > "$work/www/100k.bin"
if [[ " ${cases[*]} " == *" big "* ]]; then
  head -c $((100 * 1024 * 1024)) /dev/urandom > "$work/www/big.bin"
fi
PHP_CGI=""
if [[ " ${cases[*]} " == *" php"* || " ${cases[*]} " == *"xsendfile"* || " ${cases[*]} " == *"readfile"* || " ${cases[*]} " == *" slow "* ]]; then
  PHP_CGI=$(command -v php-cgi) || { echo "missing php-cgi (apt-get install php-cgi)"; exit 1; }
  mkdir -p "$work/files"
  head -c $((10 * 1024 * 1024)) /dev/urandom > "$work/files/10m.bin"
  echo '<?php echo "Hello, world!\n";' > "$work/www/hello.php"
  cp "$work/www/hello.php" "$work/www/hello.kphp"
  printf '<?php header("Content-Type: application/octet-stream");\nheader("X-Sendfile: %s/files/10m.bin");\n' "$work" > "$work/www/xs.php"
  printf '<?php header("Content-Type: application/octet-stream");\nreadfile("%s/files/10m.bin");\n' "$work" > "$work/www/rf.php"
fi

AUTH=""
if [[ " ${cases[*]} " == *" auth"* ]]; then
  command -v htpasswd >/dev/null || { echo "missing htpasswd (apt-get install apache2-utils)"; exit 1; }
  AUTH=1
  for d in bcrypt apr1 plain; do mkdir -p "$work/www/$d"; cp "$work/www/1k.txt" "$work/www/$d/1k.txt"; done
  htpasswd -nbB bench secret > "$work/bcrypt.users"
  htpasswd -nbm bench secret > "$work/apr1.users"
  echo "bench:secret" > "$work/plain.users"
fi

go build -o "$work/golighty" ./cmd/golighty
go build -o "$work/dl" ./bench/dl

conf() { # port [extra lines]
  cat <<EOF
server.document-root = "$work/www"
server.bind = "127.0.0.1"
server.port = $1
server.max-keep-alive-requests = 100000
server.errorlog = "$work/error-$1.log"
mimetype.assign = (".txt" => "text/plain", ".bin" => "application/x-test")
EOF
  [ -n "${2:-}" ] && echo "$2"
  local mods=()
  [ -n "$AUTH" ] && mods+=('"mod_auth"' '"mod_authn_file"')
  [ -n "$PHP_CGI" ] && mods+=('"mod_fastcgi"')
  [ ${#mods[@]} -gt 0 ] && echo "server.modules = ($(IFS=,; echo "${mods[*]}"))"
  if [ -n "$AUTH" ]; then
    cat <<EOF
\$HTTP["url"] =^ "/bcrypt/" {
  auth.backend = "htpasswd"
  auth.backend.htpasswd.userfile = "$work/bcrypt.users"
  auth.cache = ()
}
\$HTTP["url"] =^ "/apr1/" {
  auth.backend = "htpasswd"
  auth.backend.htpasswd.userfile = "$work/apr1.users"
  auth.cache = ()
}
\$HTTP["url"] =^ "/plain/" {
  auth.backend = "plain"
  auth.backend.plain.userfile = "$work/plain.users"
}
auth.require = ( "/bcrypt/" => ( "method" => "basic", "realm" => "bench", "require" => "valid-user" ),
                 "/apr1/" => ( "method" => "basic", "realm" => "bench", "require" => "valid-user" ),
                 "/plain/" => ( "method" => "basic", "realm" => "bench", "require" => "valid-user" ) )
EOF
  fi
  if [ -n "$PHP_CGI" ]; then
    cat <<EOF
fastcgi.server = (".php" => ((
    "bin-path" => "$PHP_CGI",
    "socket" => "$work/php-$1.sock",
    "max-procs" => 1,
    "bin-environment" => ("PHP_FCGI_CHILDREN" => "4", "PHP_FCGI_MAX_REQUESTS" => "0"),
    "x-sendfile" => "enable",
    "x-sendfile-docroot" => ("$work/files"),
)), ".kphp" => ((
    "bin-path" => "$PHP_CGI",
    "socket" => "$work/phpk-$1.sock",
    "max-procs" => 1,
    "bin-environment" => ("PHP_FCGI_CHILDREN" => "4", "PHP_FCGI_MAX_REQUESTS" => "0"),
    "keep-conn" => "enable",
)))
EOF
  fi
}
conf "$PORT_G" > "$work/golighty.conf"
conf "$PORT_L" > "$work/lighttpd.conf"
# The idle case needs room for its connections, and keep-alive long enough
# to measure them all open.
idle_extra='server.max-fds = 20000
server.max-connections = 10000
server.listen-backlog = 4096
server.max-keep-alive-idle = 120
server.max-read-idle = 120'
conf "$PORT_G" "$idle_extra" > "$work/golighty-idle.conf"
conf "$PORT_L" "$idle_extra" > "$work/lighttpd-idle.conf"

cat > "$work/ims.lua" <<'EOF'
-- wrk script: conditional GET with the ETag the server sent first
local etag = nil
request = function()
  if etag then
    return wrk.format("GET", nil, { ["If-None-Match"] = etag })
  end
  return wrk.format("GET")
end
response = function(status, headers, body)
  if not etag and headers["ETag"] then etag = headers["ETag"] end
end
EOF
cat > "$work/noka.lua" <<'EOF'
wrk.headers["Connection"] = "close"
EOF

start_server() { # name [conf suffix] -> pid
  local name=$1 suffix=${2:-}
  if [ "$name" = golighty ]; then
    taskset -c "$SERVER_CPU" "$work/golighty" -D -f "$work/golighty$suffix.conf" --no-watch >/dev/null 2>&1 &
  else
    taskset -c "$SERVER_CPU" lighttpd -D -f "$work/lighttpd$suffix.conf" >/dev/null 2>&1 &
  fi
  local pid=$!
  local port=$PORT_G; [ "$name" = lighttpd ] && port=$PORT_L
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/1k.txt" 2>/dev/null && break
    sleep 0.05
  done
  echo "$pid"
}

cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
peak_rss_kb() { awk '/VmHWM/{print $2}' "/proc/$1/status"; }

# sample_rss pid file: writes the largest VmRSS seen, every 100 ms, until
# the file is removed or pid ends (peak memory under load; VmHWM also
# counts the start-up).
sample_rss() {
  local pid=$1 out=$2 max=0 v
  while [ -e "$out" ]; do
    v=$(awk '/VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null) || break
    [ -z "$v" ] && break
    [ "$v" -gt "$max" ] && max=$v && echo "$max" > "$out.max"
    sleep 0.1
  done
}

kv() { # key line -> the value of key=value in line
  tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1==k{print $2}'
}

# run_case prints "rate cpu peak_rss_kb hwm_kb client_cpu": rate is req/s,
# or MiB/s for downloads; cpu is µs per request, or ms per GiB for
# downloads; for idle, rate is the extra RSS per connection and cpu the RSS
# per connection in all (bytes).
run_case() { # case server
  local c=$1 name=$2 port=$PORT_G suffix=""
  [ "$name" = lighttpd ] && port=$PORT_L
  [ "$c" = idle ] && suffix=-idle
  local pid; pid=$(start_server "$name" "$suffix")
  local url="http://127.0.0.1:$port" args=(-t 1 -c "$CONNS" -d "${DURATION}s") script=() dl=()
  case $c in
    1k) url+=/1k.txt ;;
    100k) url+=/100k.bin ;;
    noka) url+=/1k.txt; script=(-s "$work/noka.lua") ;;
    304) url+=/1k.txt; script=(-s "$work/ims.lua") ;;
    big) url+=/big.bin; dl=(-c 8 -d "${DURATION}s" -warm 1s) ;;
    php) url+=/hello.php ;;
    phpkeep) url+=/hello.kphp ;;
    xsendfile) url+=/xs.php; dl=(-c 8 -d "${DURATION}s" -warm 1s) ;;
    readfile) url+=/rf.php; dl=(-c 8 -d "${DURATION}s" -warm 1s) ;;
    slow) url+=/xs.php; dl=(-c "$SLOW_CONNS" -rate "$SLOW_RATE" -d "${SLOW_DURATION}s") ;;
    idle) url+=/1k.txt; dl=(-idle "$IDLE_CONNS" -settle 3s) ;;
    authbcrypt) url+=/bcrypt/1k.txt; args+=(-H "Authorization: Basic YmVuY2g6c2VjcmV0") ;;
    authapr1) url+=/apr1/1k.txt; args+=(-H "Authorization: Basic YmVuY2g6c2VjcmV0") ;;
    authplain) url+=/plain/1k.txt; args+=(-H "Authorization: Basic YmVuY2g6c2VjcmV0") ;;
  esac
  local peakf="$work/peak.$name"
  echo 0 > "$peakf.max"; touch "$peakf"
  sample_rss "$pid" "$peakf" &
  local sampler=$!
  local rate cpu client="" line
  if [ ${#dl[@]} -gt 0 ]; then
    line=$(taskset -c "$CLIENT_CPU" "$work/dl" -pid "$pid" "${dl[@]}" "$url" | tail -1)
    if [ "$c" = idle ]; then
      rate=$(kv per_conn_b "$line"); cpu=$(kv total_per_conn_b "$line")
    else
      rate=$(kv mibps "$line"); cpu=$(kv cpu_ms_gib "$line"); client=$(kv client_ms_gib "$line")
    fi
  else
    local t0; t0=$(cpu_ticks "$pid")
    local out; out=$(taskset -c "$CLIENT_CPU" wrk "${args[@]}" "${script[@]}" "$url" 2>&1)
    local t1; t1=$(cpu_ticks "$pid")
    rate=$(awk '/Requests\/sec/{print $2}' <<<"$out")
    local total; total=$(awk '/requests in/{print $1}' <<<"$out")
    local hz; hz=$(getconf CLK_TCK)
    cpu=$(awk -v a="$t0" -v b="$t1" -v n="$total" -v hz="$hz" 'BEGIN{ if (n>0) printf "%.2f", (b-a)/hz*1e6/n; else print "nan" }')
  fi
  local hwm; hwm=$(peak_rss_kb "$pid")
  rm -f "$peakf"; wait "$sampler" 2>/dev/null || true
  local peak; peak=$(cat "$peakf.max"); rm -f "$peakf.max"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "${rate:-nan} ${cpu:-nan} ${peak:-0} ${hwm:-0} ${client:-nan}"
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }

# Columns: rate is req/s (MiB/s for downloads; for idle, bytes of RSS per
# extra connection), cpu the server's µs per request (ms per GiB for
# downloads; for idle, bytes of RSS per connection in all), client-cpu the
# download client's own ms per GiB, peak-MB the largest RSS sampled during
# the load, hwm-MB VmHWM (start-up included). Ratios: golighty/lighttpd for
# rate, lighttpd/golighty for CPU and memory: above 1.0, golighty does better.
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)  RUNS=$RUNS DURATION=$DURATION"
printf '%-10s %-9s %10s %11s %11s %8s %8s\n' case server rate cpu client-cpu peak-MB hwm-MB
for c in "${cases[@]}"; do
  declare -A r=()
  for i in $(seq "$RUNS"); do
    for s in lighttpd golighty; do
      read -r q cpu peak hwm cl < <(run_case "$c" "$s")
      r[$s.q]+="$q "; r[$s.c]+="$cpu "; r[$s.p]+="$peak "; r[$s.h]+="$hwm "; r[$s.l]+="$cl "
    done
  done
  for s in lighttpd golighty; do
    q=$(tr ' ' '\n' <<<"${r[$s.q]}" | grep . | median)
    cpu=$(tr ' ' '\n' <<<"${r[$s.c]}" | grep . | median)
    cl=$(tr ' ' '\n' <<<"${r[$s.l]}" | grep . | median)
    peak=$(tr ' ' '\n' <<<"${r[$s.p]}" | grep . | sort -g | tail -1)
    hwm=$(tr ' ' '\n' <<<"${r[$s.h]}" | grep . | sort -g | tail -1)
    printf '%-10s %-9s %10s %11s %11s %8.1f %8.1f\n' "$c" "$s" "$q" "$cpu" "$cl" \
      "$(awk -v k="$peak" 'BEGIN{print k/1024}')" "$(awk -v k="$hwm" 'BEGIN{print k/1024}')"
    declare "med_${s}_q=$q" "med_${s}_c=$cpu" "max_${s}_p=$peak"
  done
  if [ "$c" = idle ]; then
    awk -v g="$med_golighty_q" -v l="$med_lighttpd_q" -v gt="$med_golighty_c" -v lt="$med_lighttpd_c" -v c="$c" \
      'BEGIN{ printf "%-10s ratio     memory per connection %.2fx extra, %.2fx in all\n", c, l/g, lt/gt }'
  else
    awk -v g="$med_golighty_q" -v l="$med_lighttpd_q" -v gc="$med_golighty_c" -v lc="$med_lighttpd_c" \
      -v gp="$max_golighty_p" -v lp="$max_lighttpd_p" -v c="$c" \
      'BEGIN{ printf "%-10s ratio     rate %.2fx, CPU %.2fx, peak RSS %.2fx\n", c, g/l, lc/gc, lp/gp }'
  fi
  unset r
done
