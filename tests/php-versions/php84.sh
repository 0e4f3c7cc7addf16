#!/bin/sh
# Runs the PHP 8.4 of a Debian trixie root ($PHP_ROOT, default
# /var/cache/seraph/php84root) on this host without chroot: through the root's own
# dynamic loader and libraries, since trixie's php needs a newer glibc than
# bookworm's. The CLI by default; PHP_ROOT_BIN=php-cgi8.4 for the CGI.
#
# extension_dir points into the root so `-d extension=pdo.so` finds the
# root's modules, and PHP_INI_SCAN_DIR makes `--ini` list the root's ini
# files (the integration runner reads them to learn which extensions to
# load; with -n they are never loaded by PHP itself). Those are copies that
# check-php84.sh makes under opt/seraph-conf.d: the root's own conf.d holds
# absolute symlinks, which dangle when seen from outside the root.
root=${PHP_ROOT:-/var/cache/seraph/php84root}
bin=${PHP_ROOT_BIN:-php8.4}
case $bin in
php-cgi*) sapi=cgi ;;
php-fpm*) sapi=fpm ;;
*) sapi=cli ;;
esac
exe=$root/usr/bin/$bin
[ -e "$exe" ] || exe=$root/usr/sbin/$bin
PHP_INI_SCAN_DIR=${PHP_INI_SCAN_DIR:-$root/opt/seraph-conf.d/$sapi}
export PHP_INI_SCAN_DIR
exec "$root/lib64/ld-linux-x86-64.so.2" \
    --library-path "$root/lib/x86_64-linux-gnu:$root/usr/lib/x86_64-linux-gnu" \
    "$exe" -d "extension_dir=$root/usr/lib/php/20240924" "$@"
