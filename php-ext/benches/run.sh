#!/bin/sh
# Observer overhead benchmark: fib(30) without the extension, with it at
# transaction_tracer.detail=1 and detail=0, and with three reference
# observers that bound what is possible (floor.c: an observer that gives
# no function handlers, handlers that do nothing, and handlers that only
# read the TSC). Two more runs of the
# extension isolate its parts: detail=1 without demotion (SERAPH_DEMOTE=0)
# and on CLOCK_MONOTONIC (SERAPH_CLOCK=monotonic). Reports, over RUNS
# interleaved runs, the median wall time of the fib(30) call and of the
# whole process (start-up, the call, the end of the transaction, exit),
# each with its ratio to the run without the extension. Not a test:
# numbers depend on the machine.
#
#   cargo build --release -p newrelic-php && php-ext/benches/run.sh [RUNS]
#
# Another PHP: PHP=<its php> PHP_CONFIG=<its php-config> SO=<the extension
# built against it> php-ext/benches/run.sh (floor.c is compiled with that
# php-config's headers).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SO=${SO:-$ROOT/target/release/libnewrelic_php.so}
PHP=${PHP:-php}
PHP_CONFIG=${PHP_CONFIG:-php-config}
RUNS=${1:-11}
VECTORS=${VECTORS:-$ROOT/tests/vectors}
[ -f "$SO" ] || { echo "build first: cargo build --release -p newrelic-php" >&2; exit 1; }
TMP=$(mktemp -d)
SOCK=$TMP/daemon.sock
python3 "$HERE/fake_daemon.py" "$SOCK" "$VECTORS/00-app/AppReply-from-fake-daemon.bin" &
DAEMON=$!
trap 'kill $DAEMON 2>/dev/null; rm -rf "$TMP"' EXIT INT TERM
while [ ! -S "$SOCK" ]; do sleep 0.05; done

CONFIGS="none detail1 detail0 nodemote mono"
if cc -O2 -shared -fPIC $("$PHP_CONFIG" --includes) "$HERE/floor.c" -o "$TMP/floor.so" 2>"$TMP/cc.log"; then
  CONFIGS="none decline empty rdtsc detail1 detail0 nodemote mono"
else
  echo "reference observers not built (cc/$PHP_CONFIG): $(head -c 200 "$TMP/cc.log")" >&2
fi

AGENT="-d extension=$SO -d newrelic.daemon.address=$SOCK -d newrelic.daemon.dont_launch=3 \
 -d newrelic.license=0123456789012345678901234567890123456789 -d newrelic.appname=bench \
 -d newrelic.daemon.app_connect_timeout=5s"

now_ns() { date +%s%N; }
for i in $(seq "$RUNS"); do
  for c in $CONFIGS; do
    T0=$(now_ns)
    case $c in
      none) "$PHP" -n "$HERE/fib.php" ;;
      decline|empty|rdtsc) FLOOR_MODE=$c "$PHP" -n -d "extension=$TMP/floor.so" "$HERE/fib.php" ;;
      detail1) "$PHP" -n $AGENT -d newrelic.transaction_tracer.detail=1 "$HERE/fib.php" ;;
      detail0) "$PHP" -n $AGENT -d newrelic.transaction_tracer.detail=0 "$HERE/fib.php" ;;
      nodemote) SERAPH_DEMOTE=0 "$PHP" -n $AGENT -d newrelic.transaction_tracer.detail=1 "$HERE/fib.php" ;;
      mono) SERAPH_CLOCK=monotonic "$PHP" -n $AGENT -d newrelic.transaction_tracer.detail=1 "$HERE/fib.php" ;;
    esac >> "$TMP/$c"
    T1=$(now_ns)
    echo "$T0 $T1" | awk '{printf "%.3f\n", ($2 - $1) / 1e6}' >> "$TMP/$c.proc"
  done
done

median() { sort -n "$1" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
BASE=$(median "$TMP/none")
PBASE=$(median "$TMP/none.proc")
echo "$(lscpu | sed -n 's/^Model name: *//p' | head -1), PHP $("$PHP" -n -r 'echo PHP_VERSION, PHP_ZTS ? " ZTS" : " NTS";'), $RUNS runs"
printf "%-10s %12s %7s %14s %7s\n" "config" "fib(30) ms" "ratio" "process ms" "ratio"
for c in $CONFIGS; do
  M=$(median "$TMP/$c")
  P=$(median "$TMP/$c.proc")
  printf "%-10s %12.3f %7.2f %14.3f %7.2f\n" "$c" "$M" "$(echo "$M / $BASE" | bc -l)" "$P" "$(echo "$P / $PBASE" | bc -l)"
done
