#!/usr/bin/env bash
# valgrind for the PHP 8.4 of a Debian trixie root ($PHP_ROOT, default
# /var/cache/seraph/php84root). The host's valgrind cannot run trixie's loader (it finds
# no usable symbols for the newer ld.so), so this runs the root's own
# valgrind inside the root with chroot. The program to check — `php`,
# `php-cgi` or the php84.sh / php-cgi84.sh wrappers — becomes the root's
# php8.4 / php-cgi8.4; everything else passes through. The caller's working
# directory and every path the arguments name must exist inside the root:
# check-php84.sh bind-mounts the repository and the 8.4 target directory
# read-only at their own paths, mounts /proc, and points TMPDIR into the
# root (a symlink makes the host path of the root valid inside it too).
set -euo pipefail
root=${PHP_ROOT:-/var/cache/seraph/php84root}
args=()
mapped=0
after_dashdash=0
for a in "$@"; do
    if [ "$mapped" = 0 ] && { [ "$after_dashdash" = 1 ] || [ "${a#-}" = "$a" ]; }; then
        case "$(basename "$a")" in
        php | php8.4 | php84.sh) a=/usr/bin/php8.4 ;;
        php-cgi | php-cgi8.4 | php-cgi84.sh) a=/usr/bin/php-cgi8.4 ;;
        esac
        mapped=1
    elif [ "$mapped" = 0 ] && [ "$a" = "--" ]; then
        after_dashdash=1
    fi
    args+=("$a")
done
# GNU chroot changes to / : go back to the caller's directory inside.
exec chroot "$root" /bin/sh -c 'cd "$0" && exec /usr/bin/valgrind "$@"' "$PWD" "${args[@]}"
