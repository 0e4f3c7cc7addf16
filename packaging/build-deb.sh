#!/usr/bin/env bash
# Builds seraph_<version>_<arch>.deb: newrelic-daemon, the PHP extension as
# newrelic.so for the PHP found by php-config, its ini (enabled with
# phpenmod), the systemd unit and the configuration template - the same
# paths New Relic's packages use, so either can replace the other.
#
#   packaging/build-deb.sh [--profile release|debug] [--out DIR] [--compression xz|gzip|none]
#
# The daemon is not started or enabled by the package: without
# /etc/newrelic/newrelic.cfg the agent starts it on demand (angelic mode);
# with it, `systemctl enable --now newrelic-daemon` (daemonic mode).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=release
out=target/deb
compression=xz
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --compression) compression=$2; shift 2 ;;
    *) echo "usage: $0 [--profile release|debug] [--out DIR] [--compression xz|gzip|none]" >&2; exit 2 ;;
  esac
done
case "$profile" in
  release) cargo build --release --locked -p seraph-daemon -p newrelic-php; bin=target/release ;;
  debug) cargo build --locked -p seraph-daemon -p newrelic-php; bin=target/debug ;;
  *) echo "unknown profile $profile" >&2; exit 2 ;;
esac

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
arch=$(dpkg --print-architecture)
php_api=$(php-config --phpapi)
php_ver=$(php-config --version | cut -d. -f1,2)
ext_dir=$(php-config --extension-dir)

stage=$(mktemp -d)
chmod 0755 "$stage"
trap 'rm -rf "$stage"' EXIT
install -D -m 0755 "$bin/newrelic-daemon" "$stage/usr/bin/newrelic-daemon"
install -D -m 0644 "$bin/libnewrelic_php.so" "$stage$ext_dir/newrelic.so"
install -D -m 0644 packaging/newrelic-daemon.service "$stage/usr/lib/systemd/system/newrelic-daemon.service"
install -D -m 0644 packaging/newrelic.cfg.template "$stage/etc/newrelic/newrelic.cfg.template"
install -D -m 0644 README.md "$stage/usr/share/doc/seraph/README.md"
for doc in docs/*.md; do
  install -D -m 0644 "$doc" "$stage/usr/share/doc/seraph/$(basename "$doc")"
done
install -d -m 0755 "$stage/var/log/newrelic"
install -D -m 0644 /dev/stdin "$stage/etc/php/$php_ver/mods-available/newrelic.ini" <<INI
; Seraph, the New Relic-compatible PHP agent. Every newrelic.* setting of
; New Relic's agent is accepted: see /usr/share/doc/seraph/extension.md.
; priority=20
extension=newrelic.so
newrelic.license = ""
newrelic.appname = "PHP Application"
INI

install -d "$stage/DEBIAN"
cat >"$stage/DEBIAN/control" <<CONTROL
Package: seraph
Version: $version
Architecture: $arch
Maintainer: Seraph developers <seraph@example.invalid>
Section: web
Priority: optional
Depends: libc6, phpapi-$php_api
Conflicts: newrelic-php5, newrelic-php5-common, newrelic-daemon
Replaces: newrelic-php5, newrelic-php5-common, newrelic-daemon
Provides: newrelic-daemon
Description: New Relic-compatible PHP APM agent and daemon, written in Rust
 newrelic.so instruments PHP requests (transactions, segments, errors,
 traces, spans) and hands them to newrelic-daemon, which aggregates them and
 reports to New Relic's collector. Drop-in for New Relic's PHP agent: same
 INI settings, PHP API, newrelic.cfg keys and daemon flags.
CONTROL
printf '/etc/php/%s/mods-available/newrelic.ini\n' "$php_ver" >"$stage/DEBIAN/conffiles"
cat >"$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
# The group that may use the daemon's socket file (socket_mode 0660): the
# unit runs the daemon with it; add PHP users to it (packaging/README.md).
if [ "$1" = configure ] && ! getent group newrelic >/dev/null 2>&1; then
  addgroup --system newrelic >/dev/null 2>&1 || groupadd --system newrelic || true
fi
if [ "$1" = configure ] && command -v phpenmod >/dev/null 2>&1; then
  phpenmod newrelic || true
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
POSTINST
cat >"$stage/DEBIAN/prerm" <<'PRERM'
#!/bin/sh
set -e
if [ "$1" = remove ] && command -v phpdismod >/dev/null 2>&1; then
  phpdismod newrelic || true
fi
if [ -d /run/systemd/system ]; then
  systemctl stop newrelic-daemon >/dev/null 2>&1 || true
fi
PRERM
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm"

mkdir -p "$out"
deb="$out/seraph_${version}_${arch}.deb"
dpkg-deb --root-owner-group "-Z$compression" --build "$stage" "$deb" >/dev/null
echo "$deb"
