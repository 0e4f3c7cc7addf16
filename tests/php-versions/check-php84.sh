#!/usr/bin/env bash
# Builds the extension against PHP 8.4 and runs our tests on it, on a Debian 12
# machine whose own PHP is 8.2.
#
# NOT part of .ci/run (nor tests/run-all.sh): the first time it downloads a
# Debian trixie root from deb.debian.org (1.2 GB once installed), it needs
# root (debootstrap, chroot, mount) and it takes several minutes. Run it by
# hand when touching Zend-facing code.
#
# Idempotent: the root, the separate target directory and the mounts are
# reused or made as needed; the mounts are undone on exit. (Were the script
# killed with SIGKILL, unmount $PHP84_ROOT/proc and the read-only binds of
# the repository and the target directory before deleting the root.)
#
# Steps:
#  1. PHP 8.4 (trixie's php8.4-cli/-cgi/-fpm/-dev/-sqlite3/-curl, valgrind,
#     libc6-dbg) in $PHP84_ROOT (default /var/cache/seraph/php84root), via debootstrap.
#  2. `cargo build -p newrelic-php` with PHP_CONFIG=php-config-root.sh (the
#     root's php-config with root-prefixed paths) into $PHP84_TARGET_DIR
#     (default /var/cache/seraph/target-php84), so the normal 8.2 build is untouched.
#  3. `--ri newrelic` and smoke.php on 8.4 (trixie's php runs on this host
#     through trixie's own loader: php84.sh), output compared with 8.2's.
#  4. `cargo test -p newrelic-php` against 8.4: `php`, `php-cgi`,
#     `php-fpm8.4` and `valgrind` on PATH are the root's (opt/seraph-bin).
#  5. integration-runner over tests/integration on 8.4 (OPcache on, off,
#     with the real daemon, under valgrind), over php84/ (tests of 8.4-only
#     syntax: property hooks, lazy objects, #[\Deprecated], exit()) and,
#     for comparison, over tests/integration on the host's PHP.
# Prints a summary; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
HERE=$REPO/tests/php-versions
ROOT=${PHP84_ROOT:-/var/cache/seraph/php84root}
TARGET=${PHP84_TARGET_DIR:-/var/cache/seraph/target-php84}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES=(php8.4-cli php8.4-cgi php8.4-fpm php8.4-dev php8.4-sqlite3 php8.4-curl valgrind libc6-dbg)

die() {
    echo "check-php84: $*" >&2
    exit 3
}
step() { printf '\n==> %s\n' "$*"; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"
case "$ROOT/" in "$REPO"/*) die "PHP84_ROOT must be outside the repository" ;; esac
case "$TARGET/" in "$REPO"/*) die "PHP84_TARGET_DIR must be outside the repository" ;; esac

SUMMARY=()
FAILED=0
record() { # record <ok|FAIL> <text>
    SUMMARY+=("$1  $2")
    [ "$1" = ok ] || FAILED=1
}

# --- 1. the root --------------------------------------------------------------
step "PHP 8.4 root in $ROOT"
if [ ! -e "$ROOT/etc/debian_version" ]; then
    command -v debootstrap >/dev/null || apt-get install -y debootstrap || die "no debootstrap"
    debootstrap --variant=minbase trixie "$ROOT" "$MIRROR" || die "debootstrap failed"
fi
missing=()
for p in "${PACKAGES[@]}"; do
    chroot "$ROOT" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    chroot "$ROOT" apt-get update || die "apt-get update in the root failed"
    chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" ||
        die "cannot install ${missing[*]} in the root"
fi
export PHP_ROOT=$ROOT
"$HERE/php84.sh" -n -v | head -1

# The root's conf.d entries are absolute symlinks (dangling from outside):
# copies the runner can read through `php84.sh --ini`.
for sapi in cli cgi; do
    dst=$ROOT/opt/seraph-conf.d/$sapi
    rm -rf "$dst" && mkdir -p "$dst"
    for f in "$ROOT/etc/php/8.4/$sapi/conf.d/"*.ini; do
        t=$(readlink "$f" || true)
        case $t in /*) t=$ROOT$t ;; "") t=$f ;; *) t=$(dirname "$f")/$t ;; esac
        cp "$t" "$dst/$(basename "$f")"
    done
done

# What tests find on PATH when they run `php`, `php-cgi`, `php-fpm8.4`,
# `valgrind`.
BIN=$ROOT/opt/seraph-bin
mkdir -p "$BIN"
printf '#!/bin/sh\nexec "%s/php84.sh" "$@"\n' "$HERE" >"$BIN/php"
printf '#!/bin/sh\nexec "%s/php-cgi84.sh" "$@"\n' "$HERE" >"$BIN/php-cgi"
printf '#!/bin/sh\nPHP_ROOT_BIN=php-fpm8.4 exec "%s/php84.sh" "$@"\n' "$HERE" >"$BIN/php-fpm8.4"
printf '#!/bin/sh\nexec "%s/valgrind-root.sh" "$@"\n' "$HERE" >"$BIN/valgrind"
chmod +x "$BIN"/*

# valgrind runs inside the root: the repository and the target directory at
# their own paths (read-only), /proc, and temporary files in the root's /tmp,
# reachable at the same host path from inside through a symlink.
MOUNTS=()
cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[$i]}" || echo "check-php84: cannot unmount ${MOUNTS[$i]}" >&2
    done
}
trap cleanup EXIT
bind_ro() { # bind_ro <host dir>
    local at=$ROOT$1
    mkdir -p "$at"
    # A bind left over from an interrupted run may show a directory that
    # has since been deleted and re-created: always bind afresh.
    while mountpoint -q "$at"; do umount "$at" || die "cannot unmount a stale $at"; done
    mount --bind "$1" "$at" && mount -o remount,bind,ro "$at" && MOUNTS+=("$at") ||
        die "cannot bind-mount $1"
}
mkdir -p "$TARGET"
if ! mountpoint -q "$ROOT/proc"; then
    mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc") || die "cannot mount /proc in the root"
fi
bind_ro "$REPO"
bind_ro "$TARGET"
mkdir -p "$ROOT$(dirname "$ROOT")"
[ -L "$ROOT$ROOT" ] || ln -s / "$ROOT$ROOT"
export TMPDIR=$ROOT/tmp/seraph-tests
mkdir -p "$TMPDIR"

# --- 2. build -----------------------------------------------------------------
step "build the extension against PHP 8.4 headers into $TARGET"
B84=(env PHP_ROOT="$ROOT" PHP_CONFIG="$HERE/php-config-root.sh" CARGO_TARGET_DIR="$TARGET")
SO84=$TARGET/debug/libnewrelic_php.so
if "${B84[@]}" cargo build -p newrelic-php; then
    record ok "cargo build -p newrelic-php against PHP $("$HERE/php-config-root.sh" --version)"
else
    record FAIL "cargo build -p newrelic-php against PHP 8.4"
fi
step "build the extension (host PHP), the daemon and the integration runner"
cargo build -p newrelic-php -p seraph-daemon -p integration-runner || die "host build failed"
DAEMON=$REPO/target/debug/newrelic-daemon
SO82=$REPO/target/debug/libnewrelic_php.so
RUNNER=$REPO/target/debug/integration-runner

# --- 3. load and smoke --------------------------------------------------------
step "php8.4 --ri newrelic"
ri=$("$HERE/php84.sh" -n -d "extension=$SO84" --ri newrelic 2>&1)
if grep -q '^New Relic RPM Monitoring => enabled' <<<"$ri"; then
    record ok "php8.4 --ri newrelic"
else
    record FAIL "php8.4 --ri newrelic"
fi
step "smoke.php on 8.4 and on the host's PHP"
SMOKE_ARGS=(-n -d extension=pdo.so -d extension=pdo_sqlite.so -d extension=curl.so)
SMOKE_INI=(-d newrelic.daemon.dont_launch=3 -d newrelic.license=0123456789012345678901234567890123456789)
out84=$(cd "$HERE" && "$HERE/php84.sh" "${SMOKE_ARGS[@]}" -d "extension=$SO84" "${SMOKE_INI[@]}" smoke.php 2>&1)
rc84=$?
out82=$(cd "$HERE" && php "${SMOKE_ARGS[@]}" -d "extension=$SO82" "${SMOKE_INI[@]}" smoke.php 2>&1)
rc82=$?
if [ "$rc84" = 255 ] && [ "$rc82" = 255 ] && [ "$out84" = "$out82" ]; then
    record ok "smoke.php: same output on 8.4 and the host's PHP (exit 255: uncaught exception)"
else
    record FAIL "smoke.php: exit $rc84 on 8.4, $rc82 on the host; outputs differ or crashed"
    diff <(echo "$out82") <(echo "$out84") | head -40
fi

# --- 4. the extension's own tests on 8.4 --------------------------------------
step "cargo test -p newrelic-php against PHP 8.4 (php, php-cgi, php-fpm8.4, valgrind from the root)"
log=$TARGET/cargo-test-php84.log
# The Apache test (tests/apache.rs) needs the host's Apache with a mod_php of
# the same PHP version: the root's mod_php 8.4 cannot load into the host's
# Apache (glibc), so it is left out here.
PATH=$BIN:$PATH "${B84[@]}" cargo test --no-fail-fast -p newrelic-php -- \
    --skip prefork_children_connect_lazily_and_report_their_requests >"$log" 2>&1
rc=$?
passed=$(grep -o '[0-9]* passed' "$log" | awk '{s += $1} END {print s + 0}')
failed=$(grep -o '[0-9]* failed' "$log" | awk '{s += $1} END {print s + 0}')
if [ "$rc" = 0 ]; then
    record ok "cargo test -p newrelic-php on 8.4: $passed passed, $failed failed"
else
    record FAIL "cargo test -p newrelic-php on 8.4: $passed passed, $failed failed (log: $log)"
    grep -E '^test .* FAILED$|panicked at' "$log" | head -20
fi

# --- 5. the PHP test files ----------------------------------------------------
run_runner() { # run_runner <label> <runner args...> <test dir>
    local label=$1
    shift
    local out
    out=$("$RUNNER" "$@" 2>&1)
    local rc=$?
    local totals
    totals=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    echo "$out" | grep -Ev '^pass - ' | tail -30
    if [ "$rc" = 0 ]; then
        record ok "integration-runner $label: $totals"
    else
        record FAIL "integration-runner $label: ${totals:-did not finish} (exit $rc)"
    fi
}
P84=(--agent "$SO84" --php "$HERE/php84.sh" --cgi "$HERE/php-cgi84.sh")
VG=(--valgrind "$HERE/valgrind-root.sh" --threads 2)
step "integration-runner, PHP 8.4"
run_runner "PHP 8.4" "${P84[@]}" tests/integration
step "integration-runner, PHP 8.4, OPcache off"
run_runner "PHP 8.4 --opcacheoff" "${P84[@]}" --opcacheoff tests/integration
step "integration-runner, PHP 8.4, real daemon"
run_runner "PHP 8.4 --daemon" "${P84[@]}" --daemon "$DAEMON" --threads 2 tests/integration
step "integration-runner, PHP 8.4, under valgrind"
run_runner "PHP 8.4 --valgrind" "${P84[@]}" "${VG[@]}" tests/integration
step "integration-runner, PHP 8.4 only features (tests/php-versions/php84)"
run_runner "PHP 8.4 features" "${P84[@]}" tests/php-versions/php84
run_runner "PHP 8.4 features --valgrind" "${P84[@]}" "${VG[@]}" tests/php-versions/php84
step "integration-runner, host PHP ($(php -r 'echo PHP_VERSION;'))"
run_runner "PHP $(php -r 'echo PHP_VERSION;') (host)" --agent "$SO82" tests/integration

# --- summary ------------------------------------------------------------------
printf '\n==> summary\n'
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
