#!/usr/bin/env bash
# Side-by-side benchmark: golighty and Debian's lighttpd serve the same
# docroot with the same config on loopback. Small responses are driven by
# wrk; downloads (big, xsendfile, readfile, slow) and the idle-connection
# memory case by bench/dl, which reads 1 MiB per read(2) so the client is
# not the bottleneck. Server and client are pinned to different cores. Each
# case runs RUNS times per server, alternating servers, and the median is
# reported with the ratios measured in the same run. Besides throughput,
# every case reports the server's CPU time per request (or per GiB) over the
# measured interval and its peak RSS sampled during the load: read a
# client-bound case by its CPU, not its rate (bench/README.md).
#
#   bench/compare.sh [case ...]     cases: 1k 100k noka 304 many big mixed php phppage phpkeep xsendfile readfile
#                                   slow idle rewrite rwnomatch authbcrypt authapr1 authplain svhost evhost vhostdb
#                                   xff xffnone gz gzcache br brcache propfind magnet
#                                   cgi proxy1k proxy1m wsecho
#                                   (default: all; php cases need php-cgi, auth cases htpasswd,
#                                   vhostdb sqlite3 and Debian's lighttpd-modules-dbi libdbd-sqlite3,
#                                   propfind lighttpd-mod-webdav, magnet lighttpd-modules-lua,
#                                   cgi perl)
# mixed: 1 KiB requests on 4 connections while 8 downloads of big.bin run;
# it reports their rate and latency (see run_case).
# slow: SLOW_CONNS (1,000) connections paced to SLOW_RATE (256 KiB/s) each
# download a 10 MiB file that PHP hands off with X-Sendfile, SLOW_DURATION
# (15) s. idle: IDLE_CONNS (8,000) connections are opened, half of them make
# one request, and the server's RSS is read with all of them open, 5 s after
# the last one opened: golighty hands the memory of the burst back in steps
# (connections parked after 1 s idle, their goroutines gone a second later,
# the governor's collection at its next quiet look), and at 3 s its RSS
# still depended on how those steps fell against the governor's ticks
# (bench/README.md).
# many asks for 10,000 different 1 KiB files at random (a site or tile
# server whose files outnumber what one hot file measures): every file
# stays in both servers' stat caches when the descriptor limit allows
# (golighty holds at most half of RLIMIT_NOFILE, lighttpd has no bound).
# rewrite is a 1 KiB file reached through the last of 20 url.rewrite-once
# rules (a second pass through the request pipeline); rwnomatch is the plain
# 1k request on that same config, where none of the 20 rules matches.
# The deflate cases fetch a 100 KiB HTML page with keep-alive and
# Accept-Encoding gzip or br through mod_deflate: gz and br compress it for
# every request, gzcache and brcache serve the copy kept in deflate.cache-dir.
# The gateway cases: cgi runs a perl hello script per request (cgi.assign);
# proxy1k and proxy1m fetch 1 KiB and 1 MiB through mod_proxy from a Go HTTP
# backend (bench/gwbench, pinned with wrk); wsecho measures WebSocket echo
# round trips through mod_wstunnel to gwbench's TCP echo (gwbench is also the
# client there, 64-byte text messages on 16 connections).
# The auth cases fetch the 1 KiB file with keep-alive and Basic credentials:
# authbcrypt and authapr1 from htpasswd files (bcrypt as `htpasswd -B`
# writes it, apr1 as `htpasswd -m`) with auth.cache, authplain from the
# plain backend without a cache (each login reads the user file).
# svhost, evhost and vhostdb are the 1k case through mod_simple_vhost, mod_evhost and
# mod_vhostdb (SQLite, vhostdb.cache) with "Host: www.example.com".
# xff is 1k through mod_extforward from a trusted peer with X-Forwarded-For
# (the client taken from the header); xffnone the same without the header.
# Naming either loads mod_extforward for every case of that run.
# propfind is PROPFIND Depth: 1 on a collection of 1,000 files (mod_webdav
# with its SQLite database, 8 connections); magnet is the 1 KiB file
# fetched as /mg/1k.txt through a magnet.attract-raw-url-to script that
# rewrites it to /1k.txt and restarts the request (the script runs again
# for the restarted request and lets it pass).
# phpkeep is PHP hello through a backend with golighty's "keep-conn" =>
# "enable" (connection reuse); lighttpd ignores that key, so both servers
# still read the same file.
# The download cases depend on the kernel's TCP congestion control: on
# loopback, BBR's pacing costs golighty's send pattern more than lighttpd's
# (bench/README.md). The header prints the one in force; TCP_CC=cubic (or any
# name in net.ipv4.tcp_available_congestion_control) sets it for the run
# and puts the previous one back at the end (root only).
#   RUNS=5 DURATION=10 CONNS=64 bench/compare.sh
#   TCP_CC=cubic bench/compare.sh big xsendfile
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
PORT_B=${PORT_B:-18082} # gwbench HTTP backend
PORT_E=${PORT_E:-18083} # gwbench TCP echo
cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(1k 100k noka 304 many big mixed php phppage phpkeep xsendfile readfile slow idle rewrite rwnomatch authbcrypt authapr1 authplain svhost evhost vhostdb xff xffnone gz gzcache br brcache propfind magnet cgi proxy1k proxy1m wsecho)

for tool in wrk lighttpd taskset go; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk lighttpd util-linux)"; exit 1; }
done

cc_sysctl=/proc/sys/net/ipv4/tcp_congestion_control
cc_before=$(cat "$cc_sysctl" 2>/dev/null || echo unknown)
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"; if [ -n "${TCP_CC:-}" ]; then echo "$cc_before" > "$cc_sysctl"; fi' EXIT
if [ -n "${TCP_CC:-}" ]; then
  echo "$TCP_CC" > "$cc_sysctl" || { echo "cannot set the congestion control to $TCP_CC (root, and a name from net.ipv4.tcp_available_congestion_control)"; exit 1; }
fi
mkdir -p "$work/www"
head -c 1024 /dev/urandom | base64 -w 0 | head -c 1024 > "$work/www/1k.txt"
head -c 102400 /dev/urandom > "$work/www/100k.bin"
if [[ " ${cases[*]} " == *" many "* ]]; then
  mkdir -p "$work/www/many"
  kib=$(cat "$work/www/1k.txt")
  for i in $(seq 0 9999); do printf '%s' "$kib" > "$work/www/many/f$i.txt"; done
fi
if [[ " ${cases[*]} " == *" big "* || " ${cases[*]} " == *" mixed "* ]]; then
  head -c $((100 * 1024 * 1024)) /dev/urandom > "$work/www/big.bin"
fi
PHP_CGI=""
if [[ " ${cases[*]} " == *" php"* || " ${cases[*]} " == *"xsendfile"* || " ${cases[*]} " == *"readfile"* || " ${cases[*]} " == *" slow "* ]]; then
  PHP_CGI=$(command -v php-cgi) || { echo "missing php-cgi (apt-get install php-cgi)"; exit 1; }
  mkdir -p "$work/files"
  head -c $((10 * 1024 * 1024)) /dev/urandom > "$work/files/10m.bin"
  echo '<?php echo "Hello, world!\n";' > "$work/www/hello.php"
  cp "$work/www/hello.php" "$work/www/hello.kphp"
  # A page as PHP sites send them: 20 KiB of HTML, no Content-Length.
  echo '<?php echo str_repeat("<p>A line of text in a paragraph of the page.</p>\n", 400);' > "$work/www/page.php"
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
mkdir -p "$work/vhosts/www.example.com/htdocs"
cp "$work/www/1k.txt" "$work/vhosts/www.example.com/htdocs/1k.txt"
if [[ " ${cases[*]} " == *" vhostdb "* ]]; then
  command -v sqlite3 >/dev/null || { echo "missing sqlite3 (apt-get install sqlite3)"; exit 1; }
  sqlite3 "$work/vhosts.sqlite" "CREATE TABLE vhosts (hostname varchar(255) NOT NULL PRIMARY KEY, docroot varchar(255) NOT NULL);
    INSERT INTO vhosts VALUES ('www.example.com', '$work/vhosts/www.example.com/htdocs');"
fi

DEFLATE=""
if [[ " ${cases[*]} " == *" gz"* || " ${cases[*]} " == *" br"* ]]; then
  DEFLATE=1
  mkdir -p "$work/www/cache"
  # An HTML page of table rows, as a directory listing or a report would be.
  awk 'BEGIN { srand(7); for (i = 0; n < 102400; i++) { l = sprintf("<tr><td class=\"n\"><a href=\"file-%d-%d.html\">file %d</a></td><td class=\"m\">2024-%02d-%02d %02d:%02d</td><td class=\"s\">%d.%dK</td></tr>\n", i, int(rand()*1e6), i, int(rand()*12)+1, int(rand()*28)+1, int(rand()*24), int(rand()*60), int(rand()*900), int(rand()*10)); printf "%s", l; n += length(l) } }' > "$work/www/100k.html"
  truncate -s 102400 "$work/www/100k.html"
  cp "$work/www/100k.html" "$work/www/cache/100k.html"
fi

DAV=""
if [[ " ${cases[*]} " == *" propfind "* ]]; then
  [ -e /usr/lib/lighttpd/mod_webdav.so ] || { echo "missing lighttpd-mod-webdav"; exit 1; }
  DAV=1
  mkdir -p "$work/www/dav/big"
  for i in $(seq 1000); do echo "file $i" > "$work/www/dav/big/f$i.txt"; done
  cat > "$work/propfind.lua" <<'EOF'
wrk.method = "PROPFIND"
wrk.headers["Depth"] = "1"
EOF
fi
MAGNET=""
if [[ " ${cases[*]} " == *" magnet "* ]]; then
  [ -e /usr/lib/lighttpd/mod_magnet.so ] || { echo "missing lighttpd-modules-lua"; exit 1; }
  MAGNET=1
  cat > "$work/rewrite.lua" <<'EOF'
local r = lighty.r
local path = r.req_attr["uri.path"]
if path:sub(1, 4) == "/mg/" then
  r.req_attr["request.uri"] = path:sub(4)
  return lighty.RESTART_REQUEST
end
return 0
EOF
fi

# Built as dist/Containerfile ships it (static, no cgo; symbols kept for
# perf): a cgo build maps libc and its loader too, 1.3-1.5 MB more resident.
CGO_ENABLED=0 go build -trimpath -o "$work/golighty" ./cmd/golighty
go build -o "$work/dl" ./bench/dl

GW=""
if [[ " ${cases[*]} " == *" cgi "* || " ${cases[*]} " == *" proxy"* || " ${cases[*]} " == *" wsecho "* ]]; then
  GW=1
  command -v perl >/dev/null || { echo "missing perl"; exit 1; }
  printf 'print "Content-Type: text/plain\\n\\nHello, world!\\n";\n' > "$work/www/hello.pl"
  go build -o "$work/gwbench" ./bench/gwbench
  taskset -c "$CLIENT_CPU" "$work/gwbench" backend -http "127.0.0.1:$PORT_B" -echo "127.0.0.1:$PORT_E" &
fi

conf() { # port
  cat <<EOF
server.document-root = "$work/www"
server.bind = "127.0.0.1"
server.port = $1
server.max-keep-alive-requests = 100000
server.errorlog = "$work/error-$1.log"
mimetype.assign = (".txt" => "text/plain", ".bin" => "application/x-test", ".html" => "text/html")
EOF
  local mods=()
  if [ -n "$DEFLATE" ]; then
    mods+=('"mod_deflate"')
    cat <<EOF
deflate.mimetypes = ("text/html")
deflate.allowed-encodings = ("br", "gzip")
\$HTTP["url"] =^ "/cache/" { deflate.cache-dir = "$work/cache-$1" }
EOF
  fi
  [[ " ${cases[*]} " == *" xff"* ]] && mods+=('"mod_extforward"')
  [ -n "$AUTH" ] && mods+=('"mod_auth"' '"mod_authn_file"')
  [ -n "$PHP_CGI" ] && mods+=('"mod_fastcgi"')
  [ -n "$GW" ] && mods+=('"mod_cgi"' '"mod_proxy"' '"mod_wstunnel"')
  [ -n "$DAV" ] && mods+=('"mod_webdav"')
  [ -n "$MAGNET" ] && mods+=('"mod_magnet"')
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
  if [ -n "$GW" ]; then
    cat <<EOF
cgi.assign = (".pl" => "$(command -v perl)")
proxy.server = ("/px/" => (("host" => "127.0.0.1", "port" => $PORT_B)))
wstunnel.server = ("/ws/" => (("host" => "127.0.0.1", "port" => $PORT_E)))
EOF
  fi
  if [ -n "$DAV" ]; then
    cat <<EOF
\$HTTP["url"] =~ "^/dav($|/)" {
  webdav.activate = "enable"
  webdav.sqlite-db-name = "$work/webdav-$1.db"
}
EOF
  fi
  if [ -n "$MAGNET" ]; then echo "magnet.attract-raw-url-to = (\"$work/rewrite.lua\")"; fi
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
  if [[ " ${cases[*]} " == *" xff"* ]]; then
    cat <<EOF
extforward.forwarder = ("127.0.0.1" => "trust", "10.0.0.0/8" => "trust")
\$HTTP["remoteip"] == "203.0.113.0/24" { server.name = "clients" }
EOF
  fi
}
rewrite_rules() { # 20 rules of the usual shape; only /r19/ matches
  echo 'server.modules += ("mod_rewrite")'
  echo 'url.rewrite-once = ('
  for i in $(seq 0 19); do
    printf '  "^/r%d/([^?]*)(?:\\?(.*))?$" => "/$1.txt?page=$1${qsa}",\n' "$i"
  done
  echo ')'
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
{ conf "$PORT_G"; echo "$idle_extra"; } > "$work/golighty-idle.conf"
{ conf "$PORT_L"; echo "$idle_extra"; } > "$work/lighttpd-idle.conf"
{ conf "$PORT_G"; rewrite_rules; } > "$work/golighty-rw.conf"
{ conf "$PORT_L"; rewrite_rules; } > "$work/lighttpd-rw.conf"

vhost_conf() { # case port: the base config plus one document-root module
  conf "$2"
  case $1 in
    svhost) cat <<EOF
server.modules += ("mod_simple_vhost")
simple-vhost.server-root = "$work/vhosts"
simple-vhost.document-root = "htdocs"
simple-vhost.default-host = "www.example.com"
EOF
    ;;
    evhost) cat <<EOF
server.modules += ("mod_evhost")
evhost.path-pattern = "$work/vhosts/%_/htdocs/"
EOF
    ;;
    vhostdb) cat <<EOF
server.modules += ("mod_vhostdb_dbi")
vhostdb.backend = "dbi"
vhostdb.cache = ()
vhostdb.dbi = ( "sql" => "SELECT docroot FROM vhosts WHERE hostname='?'", "dbtype" => "sqlite3",
                "dbname" => "vhosts.sqlite", "sqlite3_dbdir" => "$work" )
EOF
    ;;
  esac
}
for c in svhost evhost vhostdb; do
  if [[ " ${cases[*]} " == *" $c "* ]]; then
    vhost_conf "$c" "$PORT_G" > "$work/golighty-$c.conf"
    vhost_conf "$c" "$PORT_L" > "$work/lighttpd-$c.conf"
  fi
done

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
cat > "$work/many.lua" <<'EOF'
-- wrk script: one of 10,000 files at random per request
request = function()
  return wrk.format("GET", "/many/f" .. math.random(0, 9999) .. ".txt")
end
EOF
cat > "$work/xff.lua" <<'EOF'
wrk.headers["X-Forwarded-For"] = "203.0.113.7, 10.1.1.1"
wrk.headers["X-Forwarded-Proto"] = "https"
EOF

start_server() { # name [config suffix] -> pid
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
# shellcheck source=bench/rss.sh
. bench/rss.sh # (the script runs from the repository root)

kv() { # key line -> the value of key=value in line
  tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1==k{print $2}'
}

# run_case prints "rate cpu peak_rss_kb hwm_kb client_cpu": rate is req/s,
# or MiB/s for downloads; cpu is µs per request, or ms per GiB for
# downloads; for idle, rate is the extra RSS per connection and cpu the RSS
# per connection in all (bytes); for mixed (1 KiB requests on 4 connections
# while 8 downloads of big.bin run), cpu is the requests' 99th percentile
# latency and client-cpu their median one, in µs.
run_case() { # case server
  local c=$1 name=$2 port=$PORT_G suffix=""
  [ "$name" = lighttpd ] && port=$PORT_L
  case $c in rewrite|rwnomatch) suffix=-rw ;; svhost|evhost|vhostdb) suffix="-$c" ;; idle) suffix=-idle ;; esac
  local pid; pid=$(start_server "$name" "$suffix")
  local url="http://127.0.0.1:$port" args=(-t 1 -c "$CONNS" -d "${DURATION}s") script=() dl=()
  case $c in
    1k) url+=/1k.txt ;;
    100k) url+=/100k.bin ;;
    noka) url+=/1k.txt; script=(-s "$work/noka.lua") ;;
    many)
      script=(-s "$work/many.lua")
      # Both servers read the files from the page cache: this machine's
      # cache lost a few percent of them within a minute, and a request
      # that waits for the disk cost golighty a thread (Go hands the
      # processor on) and lighttpd its only one.
      cat "$work/www/many/"* >/dev/null ;;
    xff) url+=/1k.txt; script=(-s "$work/xff.lua") ;;
    xffnone) url+=/1k.txt ;;
    304) url+=/1k.txt; script=(-s "$work/ims.lua") ;;
    big) url+=/big.bin; dl=(-c 8 -d "${DURATION}s" -warm 1s) ;;
    mixed) url+=/1k.txt; args=(-t 1 -c 4 -d "${DURATION}s" --latency) ;;
    php) url+=/hello.php ;;
    phppage) url+=/page.php ;;
    phpkeep) url+=/hello.kphp ;;
    xsendfile) url+=/xs.php; dl=(-c 8 -d "${DURATION}s" -warm 1s) ;;
    readfile) url+=/rf.php; dl=(-c 8 -d "${DURATION}s" -warm 1s) ;;
    slow) url+=/xs.php; dl=(-c "$SLOW_CONNS" -rate "$SLOW_RATE" -d "${SLOW_DURATION}s") ;;
    idle) url+=/1k.txt; dl=(-idle "$IDLE_CONNS" -settle 5s) ;;
    rewrite) url+="/r19/1k?x=1" ;;
    rwnomatch) url+=/1k.txt ;;
    svhost|evhost|vhostdb) url+=/1k.txt; args+=(-H "Host: www.example.com") ;;
    authbcrypt) url+=/bcrypt/1k.txt; args+=(-H "Authorization: Basic YmVuY2g6c2VjcmV0") ;;
    authapr1) url+=/apr1/1k.txt; args+=(-H "Authorization: Basic YmVuY2g6c2VjcmV0") ;;
    authplain) url+=/plain/1k.txt; args+=(-H "Authorization: Basic YmVuY2g6c2VjcmV0") ;;
    cgi) url+=/hello.pl; args=(-t 1 -c 8 -d "${DURATION}s") ;;
    proxy1k) url+=/px/1k ;;
    proxy1m) url+=/px/1m; args=(-t 1 -c 8 -d "${DURATION}s") ;;
    propfind) url+=/dav/big/; args=(-t 1 -c 8 -d "${DURATION}s"); script=(-s "$work/propfind.lua") ;;
    magnet) url+=/mg/1k.txt ;;
    gz) url+=/100k.html; args+=(-H "Accept-Encoding: gzip") ;;
    gzcache) url+=/cache/100k.html; args+=(-H "Accept-Encoding: gzip") ;;
    br) url+=/100k.html; args+=(-H "Accept-Encoding: br") ;;
    brcache) url+=/cache/100k.html; args+=(-H "Accept-Encoding: br") ;;
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
    local out
    if [ "$c" = wsecho ]; then
      # gwbench prints "round-trips/s total"; shaped like wrk's lines.
      out=$(taskset -c "$CLIENT_CPU" "$work/gwbench" ws -url "ws://127.0.0.1:$port/ws/" -c 16 -d "${DURATION}s" 2>&1 |
        awk '{print "Requests/sec: " $1; print $2 " requests in"}')
    elif [ "$c" = mixed ]; then
      taskset -c "$CLIENT_CPU" "$work/dl" -c 8 -d "$((DURATION + 2))s" "http://127.0.0.1:$port/big.bin" >/dev/null 2>&1 &
      local dlpid=$!
      sleep 1
      out=$(taskset -c "$CLIENT_CPU" wrk "${args[@]}" "$url" 2>&1)
      wait "$dlpid" || true
    else
      out=$(taskset -c "$CLIENT_CPU" wrk "${args[@]}" "${script[@]}" "$url" 2>&1)
    fi
    local t1; t1=$(cpu_ticks "$pid")
    rate=$(awk '/Requests\/sec/{print $2}' <<<"$out")
    local total; total=$(awk '/requests in/{print $1}' <<<"$out")
    local hz; hz=$(getconf CLK_TCK)
    cpu=$(awk -v a="$t0" -v b="$t1" -v n="$total" -v hz="$hz" 'BEGIN{ if (n>0) printf "%.2f", (b-a)/hz*1e6/n; else print "nan" }')
    if [ "$c" = mixed ]; then
      # wrk's latency lines: "99%    3.21ms" (us, ms or s).
      cpu=$(awk '$1=="99%"{print $2}' <<<"$out" | to_us)
      client=$(awk '$1=="50%"{print $2}' <<<"$out" | to_us)
    fi
  fi
  local hwm; hwm=$(hwm_kb "$pid")
  rm -f "$peakf"; wait "$sampler" 2>/dev/null || true
  local peak; peak=$(cat "$peakf.max"); rm -f "$peakf.max"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "${rate:-nan} ${cpu:-nan} ${peak:-0} ${hwm:-0} ${client:-nan}"
}

median() { sort -g | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2 }'; }
to_us() { awk '{v=$1; if (v ~ /us$/) v+=0; else if (v ~ /ms$/) v*=1000; else if (v ~ /s$/) v*=1e6; print v}'; }

# Columns: rate is req/s (MiB/s for downloads; for idle, bytes of RSS per
# extra connection), cpu the server's µs per request (ms per GiB for
# downloads; for idle, bytes of RSS per connection in all), client-cpu the
# download client's own ms per GiB, peak-MB the largest RSS sampled during
# the load, hwm-MB VmHWM (start-up included). Ratios: golighty/lighttpd for
# rate, lighttpd/golighty for CPU and memory: above 1.0, golighty does better.
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)  RUNS=$RUNS DURATION=$DURATION  TCP congestion control: $(cat "$cc_sysctl" 2>/dev/null || echo unknown)"
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
  # The spread of the rounds' own ratios (each round runs lighttpd, then
  # golighty, close together in time): a ratio of medians that differs
  # from 1.0 by less than this spread is within the machine's noise.
  spread=$(awk -v l="${r[lighttpd.c]}" -v g="${r[golighty.c]}" 'BEGIN{
    n = split(l, a, " "); split(g, b, " "); lo = ""; hi = ""
    for (i = 1; i <= n; i++) { if (b[i] + 0 <= 0 || a[i] == "nan" || b[i] == "nan") continue
      x = a[i] / b[i]; if (lo == "" || x < lo) lo = x; if (hi == "" || x > hi) hi = x }
    if (lo != "") printf " (rounds %.2f-%.2fx)", lo, hi }')
  if [ "$c" = idle ]; then
    awk -v g="$med_golighty_q" -v l="$med_lighttpd_q" -v gt="$med_golighty_c" -v lt="$med_lighttpd_c" -v c="$c" \
      'BEGIN{ printf "%-10s ratio     memory per connection %.2fx extra, %.2fx in all\n", c, l/g, lt/gt }'
  elif [ "$c" = mixed ]; then
    gl=$(tr ' ' '\n' <<<"${r[golighty.l]}" | grep . | median); ll=$(tr ' ' '\n' <<<"${r[lighttpd.l]}" | grep . | median)
    awk -v g="$med_golighty_q" -v l="$med_lighttpd_q" -v gc="$med_golighty_c" -v lc="$med_lighttpd_c" \
      -v gl="$gl" -v ll="$ll" -v c="$c" \
      -v sp="$spread" 'BEGIN{ printf "%-10s ratio     rate %.2fx, latency p50 %.2fx, p99 %.2fx%s\n", c, g/l, ll/gl, lc/gc, sp }'
  else
    awk -v g="$med_golighty_q" -v l="$med_lighttpd_q" -v gc="$med_golighty_c" -v lc="$med_lighttpd_c" \
      -v gp="$max_golighty_p" -v lp="$max_lighttpd_p" -v c="$c" \
      -v sp="$spread" 'BEGIN{ printf "%-10s ratio     rate %.2fx, CPU %.2fx%s, peak RSS %.2fx\n", c, g/l, lc/gc, sp, lp/gp }'
  fi
  unset r
done
