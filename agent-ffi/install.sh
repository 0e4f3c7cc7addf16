#!/bin/sh
# Installs Seraph's C SDK library: lib/libnewrelic.so, lib/libnewrelic.a,
# include/libnewrelic.h and lib/pkgconfig/libnewrelic.pc under PREFIX.
#
#   agent-ffi/install.sh [--debug|--release] [--no-build] PREFIX
#
# --debug     use the debug build (target/debug) instead of the release one
#             (--release, the default)
# --no-build  install what is already built (tests build it themselves)
#
# CARGO_TARGET_DIR is honoured. Static linking needs the system libraries
# the Rust standard library uses: pkg-config --libs --static libnewrelic
# lists them.
set -eu

profile=release
build=1
while [ $# -gt 1 ]; do
    case "$1" in
        --debug) profile=debug ;;
        --release) profile=release ;;
        --no-build) build=0 ;;
        *) echo "unknown option: $1" >&2; exit 2 ;;
    esac
    shift
done
[ $# -eq 1 ] || { echo "usage: $0 [--debug|--release] [--no-build] PREFIX" >&2; exit 2; }
prefix=$1

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
target=${CARGO_TARGET_DIR:-$root/target}

if [ "$build" = 1 ]; then
    if [ "$profile" = release ]; then
        cargo build --manifest-path "$root/Cargo.toml" -p seraph-agent-ffi --release
    else
        cargo build --manifest-path "$root/Cargo.toml" -p seraph-agent-ffi
    fi
fi

for f in libnewrelic.so libnewrelic.a; do
    [ -f "$target/$profile/$f" ] || { echo "$target/$profile/$f is missing: build seraph-agent-ffi first" >&2; exit 1; }
done

mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$target/$profile/libnewrelic.so" "$prefix/lib/libnewrelic.so"
install -m 0644 "$target/$profile/libnewrelic.a" "$prefix/lib/libnewrelic.a"
install -m 0644 "$here/include/libnewrelic.h" "$prefix/include/libnewrelic.h"
cat > "$prefix/lib/pkgconfig/libnewrelic.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libnewrelic
Description: Seraph's drop-in for New Relic's C SDK 1.3
Version: 1.3.0
Cflags: -I\${includedir}
Libs: -L\${libdir} -lnewrelic
Libs.private: -lpthread -ldl -lm -lrt -lutil -lgcc_s
PC
echo "installed libnewrelic ($profile) under $prefix"
