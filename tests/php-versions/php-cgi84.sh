#!/bin/sh
# php-cgi8.4 of the trixie root; see php84.sh.
PHP_ROOT_BIN=php-cgi8.4 exec "$(dirname "$0")/php84.sh" "$@"
