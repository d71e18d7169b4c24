#!/bin/sh
# Takes a headless Chromium screenshot of the stats page (Debian: apt-get install
# chromium). Starts hitless on loopback with a frontend, a backend of four servers
# (one drained and one put in maintenance through the page's admin form) and the page
# itself, sends some traffic, shoots with JavaScript disabled, and stops hitless.
#   scripts/statspage-screenshot.sh [OUT.png] [PORT]
set -eu
out=${1:-/tmp/hitless-stats.png}
port=${2:-18480}
chromium=${CHROMIUM:-/usr/bin/chromium}
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
go build -o "$dir/hitless" ./cmd/hitless
cat >"$dir/h.cfg" <<CFG
defaults
    mode http
    timeout client 5s
    timeout connect 5s
    timeout server 5s
frontend www
    bind 127.0.0.1:$port
    http-request use-service prometheus-exporter if { path /metrics }
    stats uri /stats
    stats auth admin:admin
    stats refresh 10s
    stats admin if { src 127.0.0.1 }
    stats show-node
    default_backend app
backend app
    server app1 127.0.0.1:$((port + 1)) check inter 500
    server app2 127.0.0.1:$((port + 2)) check inter 500
    server app3 127.0.0.1:$((port + 3)) weight 2
    server spare 127.0.0.1:$((port + 4)) backup
listen app1
    bind 127.0.0.1:$((port + 1))
    http-request return status 200 content-type text/plain string app1
listen app2
    bind 127.0.0.1:$((port + 2))
    http-request return status 200 content-type text/plain string app2
CFG
"$dir/hitless" -f "$dir/h.cfg" &
pid=$!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$port/stats"; do
	i=$((i + 1))
	[ $i -lt 50 ] || { echo "hitless did not start" >&2; exit 1; }
	sleep 0.1
done
for i in $(seq 30); do curl -s -o /dev/null "http://127.0.0.1:$port/"; done
curl -s -o /dev/null -u admin:admin -d 's=app2&action=drain&b=app' "http://127.0.0.1:$port/stats"
curl -s -o /dev/null -u admin:admin -d 's=spare&action=maint&b=app' "http://127.0.0.1:$port/stats"
sleep 1.5
"$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1600,900 --disable-javascript \
	--screenshot="$out" "http://admin:admin@127.0.0.1:$port/stats;st=DONE" 2>"$dir/chromium.log" || { cat "$dir/chromium.log" >&2; exit 1; }
[ -s "$out" ] || { echo "no screenshot written" >&2; cat "$dir/chromium.log" >&2; exit 1; }
echo "screenshot: $out"
