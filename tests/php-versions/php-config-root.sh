#!/bin/sh
# php-config for a PHP installed under a foreign root directory (a debootstrap
# tree): asks the root's own php-config and prefixes every path with the root,
# so build.rs and bindgen read that PHP's headers. Root: $PHP_ROOT.
# The root's php-config8.4 is a shell script; run it with the host shell.
set -eu
root=${PHP_ROOT:?set PHP_ROOT to the root directory}
ver=${PHP_ROOT_VERSION:-8.4}
cfg="$root/usr/bin/php-config$ver"
case "${1:-}" in
--includes)
    sh "$cfg" --includes | sed "s#-I/#-I$root/#g" ;;
--include-dir|--extension-dir|--prefix|--php-binary|--ini-path|--ini-dir|--lib-dir|--man-dir)
    printf '%s%s\n' "$root" "$(sh "$cfg" "$1")" ;;
--ldflags)
    sh "$cfg" --ldflags | sed "s#-L/#-L$root/#g" ;;
*)
    sh "$cfg" "$@" ;;
esac
