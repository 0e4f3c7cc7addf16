#!/usr/bin/env bash
# The README's main job: build everything, start the collector stand-in
# (HTTPS, generated CA), newrelic-daemon (watcher + worker, daemonic mode),
# php-fpm with the Seraph extension behind nginx serving a small shop
# (tests/demo/app), send it traffic, and print what reached the collector.
#
#   tests/demo.sh           run, print the summary, stop everything
#   tests/demo.sh --keep    leave everything running (URLs are printed)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
source tests/setup-host.sh
export RUST_BACKTRACE=0

keep=0
[ "${1:-}" = "--keep" ] && keep=1
COLLECTOR_PORT=${COLLECTOR_PORT:-18443}
WEB_PORT=${WEB_PORT:-18080}
REQUESTS=${REQUESTS:-200}

say() { printf '\n==> %s\n' "$*"; }

say "building (release): daemon, extension, collector stand-in"
cargo build --release --locked -p seraph-daemon -p newrelic-php -p collector-standin
bin=$repo/target/release

work=$(mktemp -d /tmp/seraph-demo.XXXXXX)
chmod 755 "$work"
cp -r tests/demo/app "$work/app"
chmod -R a+rX "$work/app"
echo "working directory: $work"

pids=()
cleanup() {
  if [ "$keep" = 1 ]; then return; fi
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  [ -f "$work/php-fpm.pid" ] && kill "$(cat "$work/php-fpm.pid")" 2>/dev/null || true
  [ -f "$work/daemon.pid" ] && kill "$(cat "$work/daemon.pid")" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

say "starting the collector stand-in on https://127.0.0.1:$COLLECTOR_PORT (5 s harvests)"
"$bin/collector-standin" --listen "127.0.0.1:$COLLECTOR_PORT" --ca-out "$work/ca.pem" \
  --data-report-period 5 --report-period-ms 5000 >"$work/standin.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/ca.pem" ] && break; sleep 0.1; done
[ -s "$work/ca.pem" ] || { cat "$work/standin.log"; echo "stand-in did not start"; exit 1; }
curl_collector() { curl -sS --cacert "$work/ca.pem" "https://127.0.0.1:$COLLECTOR_PORT$1"; }

say "starting newrelic-daemon (watcher + worker) on $work/daemon.sock"
cat >"$work/newrelic.cfg" <<CFG
# Daemonic mode, as systemd would run it (packaging/newrelic-daemon.service).
address = $work/daemon.sock
logfile = $work/daemon.log
loglevel = info
pidfile = $work/daemon.pid
ssl_ca_bundle = $work/ca.pem
# php-fpm's pool below runs as www-data; the socket is 0660.
socket_group = www-data
CFG
"$bin/newrelic-daemon" -c "$work/newrelic.cfg" --wait-for-port 5s
for _ in $(seq 50); do [ -S "$work/daemon.sock" ] && break; sleep 0.1; done

ext_ini=(
  -d "extension=$bin/libnewrelic_php.so"
  -d "newrelic.license=0123456789abcdef0123456789abcdef01234567"
  -d "newrelic.appname=Seraph Demo Shop"
  -d "newrelic.daemon.address=$work/daemon.sock"
  -d "newrelic.daemon.collector_host=127.0.0.1:$COLLECTOR_PORT"
  -d "newrelic.daemon.dont_launch=3"
  -d "newrelic.daemon.app_connect_timeout=5s"
  -d "newrelic.logfile=$work/agent.log"
  -d "newrelic.transaction_tracer.threshold=10ms"
  -d "newrelic.transaction_tracer.explain_threshold=20ms"
)

say "creating the shop database (a CLI transaction)"
(cd "$work/app" && SERAPH_DEMO_DB="$work/shop.sqlite" php "${ext_ini[@]}" setup.php)
chown -R www-data:www-data "$work/app" "$work/shop.sqlite" 2>/dev/null || chmod 666 "$work/shop.sqlite"
chmod 777 "$work"

say "starting php-fpm (with the extension) and nginx on http://127.0.0.1:$WEB_PORT"
cat >"$work/php-fpm.conf" <<FPM
[global]
pid = $work/php-fpm.pid
error_log = $work/php-fpm.log
daemonize = yes
[shop]
user = www-data
group = www-data
listen = $work/php-fpm.sock
listen.mode = 0666
pm = static
pm.max_children = 4
clear_env = no
env[SERAPH_DEMO_DB] = $work/shop.sqlite
FPM
/usr/sbin/php-fpm8.2 -y "$work/php-fpm.conf" "${ext_ini[@]}"
cat >"$work/nginx.conf" <<NGINX
pid $work/nginx.pid;
error_log $work/nginx-error.log;
worker_processes 1;
events { worker_connections 256; }
http {
  access_log $work/nginx-access.log;
  client_body_temp_path $work/nginx-body;
  fastcgi_temp_path $work/nginx-fastcgi;
  proxy_temp_path $work/nginx-proxy;
  uwsgi_temp_path $work/nginx-uwsgi;
  scgi_temp_path $work/nginx-scgi;
  server {
    listen 127.0.0.1:$WEB_PORT;
    root $work/app;
    index index.php;
    location ~ \.php\$ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
      fastcgi_pass unix:$work/php-fpm.sock;
    }
  }
}
NGINX
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$WEB_PORT/health.php" && break; sleep 0.1; done

say "sending $REQUESTS requests"
codes=""
for i in $(seq "$REQUESTS"); do
  case $((i % 10)) in
    0|1|2) path="/index.php" ;;
    3|4|5) path="/product.php?id=$((i % 8 + 1))" ;;
    6) path="/product.php?id=999" ;;
    7) path="/checkout.php?id=$((i % 8 + 1))&qty=1" ;;
    8) path="/checkout.php?id=2&qty=500" ;;
    9) path="/api.php" ;;
  esac
  codes+="$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$WEB_PORT$path") "
done
echo "response codes: $(tr ' ' '\n' <<<"$codes" | grep . | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')"

say "waiting for the next harvests"
sleep 12

if [ "$keep" = 1 ]; then
  curl_collector /__standin/summary
  cat <<KEEP

Everything is still running:
  shop              http://127.0.0.1:$WEB_PORT/
  harvest summary   curl --cacert $work/ca.pem https://127.0.0.1:$COLLECTOR_PORT/__standin/summary
  every call (JSON) curl --cacert $work/ca.pem https://127.0.0.1:$COLLECTOR_PORT/__standin/calls
  logs              $work/{daemon,agent,standin}.log
KEEP
  exit 0
fi

say "stopping the web tier and the daemon (its final harvest posts what is left)"
kill "$(cat "$work/nginx.pid")" "$(cat "$work/php-fpm.pid")"
daemon_pid=$(cat "$work/daemon.pid")
kill -TERM "$daemon_pid"
for _ in $(seq 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
rm -f "$work/nginx.pid" "$work/php-fpm.pid" "$work/daemon.pid"

say "what the collector received"
curl_collector /__standin/summary
echo
echo "logs and configuration are in $work"
