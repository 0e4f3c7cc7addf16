#!/usr/bin/env bash
# The PHP version matrix: builds PHP from Debian's source packages in NTS and
# ZTS variants, builds the extension against each, and runs the extension's
# tests and the integration files on each. docs/testing.md ("PHP version
# matrix") says how to run it and records its last results.
#
#   tests/php-versions/matrix.sh [VARIANT...]    # default: the five below
#   VARIANT = <minor>-<nts|zts>[:check]          # e.g. 8.5-zts, 8.1-nts:check
#   PHP_MATRIX_PHP_ONLY=1 tests/php-versions/matrix.sh ...   # only build PHPs
#
# A variant with `:check` is only configured and the extension compiled
# against its headers (8.1 and 8.3: a compile check). Every other variant
# runs the whole list below. Not part of tests/run-all.sh: a PHP build takes
# 10 to 30 minutes on two shared cores.
#
# Everything is cached outside the repository, under $PHP_MATRIX_CACHE
# (default /var/cache/seraph/php-matrix): the downloaded source packages
# (src/), the unpacked trees (tree/), out-of-tree builds (build/), the
# installed PHPs (php/<variant>/), the extension builds (target/<variant>/)
# and the logs (logs/). A PHP is rebuilt only when its configure options
# change (delete php/<variant> to force it).
#
# Per variant:
#  1. the source package: its .dsc is fetched from the archive that serves
#     it, checked against the SHA-256 pinned below, and unpacked with
#     `dpkg-source -x`, which verifies every file against the .dsc and
#     applies Debian's patches;
#  2. a lean PHP (cli, cgi, fpm, apache2handler; pcntl built in; pdo_sqlite,
#     sqlite3, curl, opcache, posix, sockets, mysqli, pdo_mysql, soap as
#     shared modules, loaded from etc/conf.d like Debian's packages; libxml
#     built in) built with `nice`; then pgsql, pdo_pgsql and mbstring from
#     the same tree with phpize; then the PECL modules redis, memcached and
#     memcache (pinned tarballs, see pecl_source_of) with its phpize;
#  3. `cargo build -p newrelic-php` with PHP_CONFIG pointing at it, and
#     `php --ri newrelic` naming the PHP version and thread safety;
#  4. `cargo test -p newrelic-php` with that PHP first on PATH, its php-fpm
#     (SERAPH_TEST_PHP_FPM) and its mod_php for the Apache tests
#     (SERAPH_TEST_MOD_PHP); on ZTS variants
#     also the threaded Apache test (mpm_event, concurrent requests per
#     process), once plainly and once under helgrind;
#  5. integration-runner over tests/integration with the real servers
#     (`--services`): OPcache on, off, and with the real daemon (and under valgrind with PHP_MATRIX_VALGRIND=1); over
#     tests/php-versions/php84 (8.4-only syntax) on 8.4 and later;
#  6. loading the variant's extension into a PHP of another API version
#     or thread safety fails with PHP's message, never a crash.
# Prints a summary; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
HERE=$REPO/tests/php-versions
CACHE=${PHP_MATRIX_CACHE:-/var/cache/seraph/php-matrix}
JOBS=${PHP_MATRIX_JOBS:-2}
DEBIAN=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
UBUNTU=${UBUNTU_MIRROR:-http://archive.ubuntu.com/ubuntu}

die() {
    echo "matrix: $*" >&2
    exit 3
}
step() { printf '\n==> %s\n' "$*"; }
case "$CACHE/" in "$REPO"/*) die "PHP_MATRIX_CACHE must be outside the repository" ;; esac

# What building PHP and its modules needs on a Debian 12 host.
BUILD_DEPS=(dpkg-dev autoconf bison re2c pkg-config libtool apache2-dev libcurl4-openssl-dev
    libsqlite3-dev libpq-dev libonig-dev libxml2-dev libmemcached-dev zlib1g-dev valgrind)
missing=()
for p in "${BUILD_DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
        die "cannot install ${missing[*]}"
fi

# The source package of each minor version: archive, pool path of the .dsc,
# and its SHA-256. Debian's packaging throughout; where the Debian mirror
# does not serve a version's files (8.1 and 8.3 are in no current Debian
# suite; experimental lists 8.5 but its pool files are not served), the same
# packaging as carried by Ubuntu's archive.
source_of() { # source_of <minor> -> "<base url> <pool path of .dsc> <sha256>"
    case $1 in
    8.1) echo "$UBUNTU pool/main/p/php8.1/php8.1_8.1.2-1ubuntu2.dsc 823ce730f3083b0bf5ad852ae562ee8e571c9593d60c4ddcb0aee9ea6d34d259" ;;
    8.2) echo "$DEBIAN pool/main/p/php8.2/php8.2_8.2.32-1~deb12u1.dsc 2dd58aea6324c0d6bd3da32bb1b6e2c10a9cf201c2587a7f6dd1acff7cef52fe" ;;
    8.3) echo "$UBUNTU pool/main/p/php8.3/php8.3_8.3.6-0maysync1.dsc 750d282e661bc0a7badbd37cd95ff91d9f2a33b6471189ad6d920b043a1992c2" ;;
    8.4) echo "$DEBIAN pool/main/p/php8.4/php8.4_8.4.16-1.dsc 9f2172c07beb78b91fe6388c88343c82d38552f3955def7e0706eb09f6311840" ;;
    8.5) echo "$UBUNTU pool/main/p/php8.5/php8.5_8.5.4-0ubuntu1.dsc babab1cf598e02e65a54cd9a61cc33720b0266ac3f9075d194d35144a5d920bc" ;;
    *) return 1 ;;
    esac
}

SUMMARY=()
FAILED=0
record() { # record <ok|FAIL> <text>
    SUMMARY+=("$1  $2")
    [ "$1" = ok ] || FAILED=1
    printf '%s  %s\n' "$1" "$2"
}

# --- 1. source ----------------------------------------------------------------
# Fetches and unpacks a minor version's source package; prints the tree.
fetch() { # fetch <minor>
    local base path sum dsc dir tree f
    read -r base path sum <<<"$(source_of "$1")" || return 1
    dsc=$(basename "$path")
    dir=$(dirname "$path")
    mkdir -p "$CACHE/src" "$CACHE/tree"
    tree=$CACHE/tree/${dsc%.dsc}
    if [ -e "$tree/.unpacked" ]; then
        echo "$tree"
        return 0
    fi
    (
        cd "$CACHE/src" || exit 1
        [ -s "$dsc" ] || curl -fsS -o "$dsc" "$base/$dir/$dsc" || exit 1
        echo "$sum  $dsc" | sha256sum -c --quiet - >&2 || {
            echo "matrix: $dsc does not match its pinned SHA-256" >&2
            rm -f "$dsc"
            exit 1
        }
        # The files the .dsc lists (dpkg-source checks their sums).
        for f in $(awk '/^Checksums-Sha256:/{s=1;next} s&&/^ /{print $3;next} {s=0}' "$dsc"); do
            [ -s "$f" ] || curl -fsS -o "$f" "$base/$dir/$f" || exit 1
        done
        rm -rf "$tree"
        dpkg-source --no-check -x "$dsc" "$tree" >&2 || exit 1
        # Unsigned by a key we hold (Ubuntu's archive key is not in
        # Debian), so the pinned .dsc hash is the anchor; the file sums
        # were checked against it above.
        touch "$tree/.unpacked"
    ) || return 1
    echo "$tree"
}

# --- 2. PHP -------------------------------------------------------------------
# configure options of a variant (the cache key of its build).
configure_args() { # configure_args <minor> <nts|zts> <prefix>
    local minor=$1 ts=$2 prefix=$3
    local a=(
        --prefix="$prefix"
        --with-config-file-path="$prefix/etc"
        --with-config-file-scan-dir="$prefix/etc/conf.d"
        --disable-all --disable-phpdbg --without-pear
        # mod_php is a shared object: PIC objects throughout.
        --with-pic
        --enable-cli --enable-cgi --enable-fpm
        --with-apxs2=/usr/bin/apxs2
        --enable-ctype --enable-tokenizer --enable-filter --enable-session
        --enable-pdo=shared --with-pdo-sqlite=shared --with-sqlite3=shared
        # pcntl built in, as in Debian's CLI (tests call pcntl_fork with -n).
        --enable-pcntl
        --with-curl=shared --enable-posix=shared
        --enable-sockets=shared --enable-mysqlnd=shared --with-mysqli=shared
        --with-pdo-mysql=shared,mysqlnd
        # SoapClient: libxml is built in (it cannot be shared), soap is a
        # shared module like Debian's php-soap.
        --with-libxml --enable-soap=shared
    )
    # 8.5 always builds OPcache in; before, it is a shared zend_extension.
    [[ $minor < 8.5 ]] && a+=(--enable-opcache=shared)
    if [ "$ts" = zts ]; then
        a+=(--enable-zts)
    else
        a+=(--disable-zts)
    fi
    printf '%s\n' "${a[@]}"
}

# Builds and installs a variant's PHP under $CACHE/php/<variant>.
build_php() { # build_php <minor> <nts|zts> <tree> [configure-only]
    local minor=$1 ts=$2 tree=$3 only=${4:-}
    local v=$minor-$ts prefix=$CACHE/php/$minor-$ts build=$CACHE/build/$minor-$ts
    local log=$CACHE/logs/$v-php-build.log key
    mkdir -p "$CACHE/logs"
    key=$(configure_args "$minor" "$ts" "$prefix" | sha256sum | cut -c1-16)
    if [ -z "$only" ] && [ -e "$prefix/.built-$key" ]; then
        return 0
    fi
    if [ -n "$only" ] && [ -e "$prefix/.headers-$key" ]; then
        return 0
    fi
    local args
    mapfile -t args < <(configure_args "$minor" "$ts" "$prefix")
    # (`set -e` does not apply inside a subshell whose status is tested:
    # every step says `|| exit 1`.)
    (
        # An interrupted build with the same options resumes.
        if [ ! -e "$build/.configured-$key" ]; then
            rm -rf "$build"
            mkdir -p "$build" && cd "$build" || exit 1
            # apxs2 enables ZTS by itself when Apache reports a threaded
            # MPM; the variant decides here, so Apache's answer is hidden.
            export APXS_HTTPD=/bin/false
            # Debian's patches touch configure.ac and the m4 files.
            if [ ! -e "$tree/.buildconf" ]; then
                (cd "$tree" && ./buildconf --force) && touch "$tree/.buildconf" || exit 1
            fi
            # No -g: a third faster to build; symbols are enough for helgrind.
            CFLAGS=${PHP_MATRIX_CFLAGS:--O2} nice -n 10 "$tree/configure" "${args[@]}" || exit 1
            # libtool would compile every file twice (for a static and a
            # shared library): only the PIC objects, which the executables
            # then link through libtool as .lo files.
            sed -i 's/^build_old_libs=yes$/build_old_libs=no/' libtool || exit 1
            sed -i '/^BUILD_\(CLI\|CGI\|FPM\) = \$(LIBTOOL)/s/\$(\([A-Z_]*\):\.lo=\.o)/$(\1)/g' Makefile || exit 1
            touch ".configured-$key"
        fi
        cd "$build" || exit 1
        rm -rf "$prefix"
        if [ -n "$only" ]; then
            # Headers and php-config only: nothing is compiled.
            make install-headers install-build install-programs || exit 1
            exit 0
        fi
        nice -n 10 make -j"$JOBS" || exit 1
        # `make install` would run apxs to edit Apache's configuration:
        # install the parts one by one and copy mod_php beside them.
        make install-cli install-cgi install-fpm install-build install-headers \
            install-programs install-modules || exit 1
        mkdir -p "$prefix/apache" "$prefix/etc/conf.d" "$prefix/share" || exit 1
        cp libs/libphp.so "$prefix/apache/libphp.so" || exit 1
        # Debian's phpize copies libtool's m4 files from here.
        ln -sfn /usr/share/aclocal "$prefix/share/aclocal" || exit 1
    ) >"$log" 2>&1 || {
        echo "matrix: building PHP $v failed; the end of $log:" >&2
        tail -30 "$log" >&2
        return 1
    }
    if [ -n "$only" ]; then
        touch "$prefix/.headers-$key"
        return 0
    fi
    # The modules, loaded the way Debian's packages load them.
    local m
    for m in pdo pdo_sqlite sqlite3 curl posix sockets mysqlnd mysqli pdo_mysql soap; do
        echo "extension=$m.so" >"$prefix/etc/conf.d/20-$m.ini"
    done
    [[ $minor < 8.5 ]] && echo "zend_extension=opcache.so" >"$prefix/etc/conf.d/10-opcache.ini"
    # pdo first, mysqlnd before mysqli and pdo_mysql.
    mv "$prefix/etc/conf.d/20-pdo.ini" "$prefix/etc/conf.d/15-pdo.ini"
    mv "$prefix/etc/conf.d/20-mysqlnd.ini" "$prefix/etc/conf.d/15-mysqlnd.ini"
    touch "$prefix/.built-$key"
}

# Modules of PHP's own tree that the integration files use and the lean
# build leaves out, built with phpize against the installed PHP (so adding
# one does not rebuild PHP).
PHPIZE_MODULES=(pgsql pdo_pgsql mbstring)

phpize_build() { # phpize_build <prefix> [configure options...], in a module's source directory
    local prefix=$1
    shift
    nice -n 10 "$prefix/bin/phpize" &&
        CFLAGS=${PHP_MATRIX_CFLAGS:--O2} nice -n 10 ./configure \
            --with-php-config="$prefix/bin/php-config" "$@" &&
        nice -n 10 make -j"$JOBS" && make install
}

build_modules() { # build_modules <minor> <nts|zts> <tree>
    local v=$1-$2 tree=$3 prefix=$CACHE/php/$1-$2 m
    local log=$CACHE/logs/$v-modules-build.log
    [ -e "$prefix/.modules-${PHPIZE_MODULES[*]// /-}" ] && return 0
    : >"$log"
    mkdir -p "$prefix/share" && ln -sfn /usr/share/aclocal "$prefix/share/aclocal" || return 1
    for m in "${PHPIZE_MODULES[@]}"; do
        local dir=$CACHE/build/$v-modules/$m
        rm -rf "$dir" && mkdir -p "$(dirname "$dir")" &&
            cp -a "$tree/ext/$m" "$dir" || return 1
        (cd "$dir" && phpize_build "$prefix") >>"$log" 2>&1 || {
            echo "matrix: building module $m for $v failed; the end of $log:" >&2
            tail -20 "$log" >&2
            return 1
        }
        echo "extension=$m.so" >"$prefix/etc/conf.d/30-$m.ini"
    done
    touch "$prefix/.modules-${PHPIZE_MODULES[*]// /-}"
}

# --- 2b. PECL modules ----------------------------------------------------------
# The PECL modules that the redis/ and memcached/ integration files use and
# PHP's own tree does not carry: phpredis, memcached and memcache. Each is
# the upstream tarball of Debian's source package (the version in sid and
# trixie), pinned by the SHA-256 that Debian's Sources index lists for it.
# The mirror serves these tarballs but not the .dsc and Debian parts of
# php-redis 6.2.0-1 and php-memcached 3.3.0-3 (404; php-memcache 8.2-5's
# carry no source patch), and Ubuntu's archive serves none of its universe
# builds, so the tarball is fetched directly. Built with the variant's phpize and
# php-config, without the optional serializers and compressors (igbinary,
# msgpack, lzf, zstd, SASL), and loaded from the variant's conf.d.
pecl_source_of() { # pecl_source_of <module> -> "<pool path> <sha256> <directory in the tarball> [configure options]"
    case $1 in
    redis) echo "pool/main/p/php-redis/php-redis_6.2.0.orig.tar.gz 5069c13dd22bd9e494bb246891052cb6cc0fc9a1b45c6a572a8be61773101363 redis-6.2.0" ;;
    memcached) echo "pool/main/p/php-memcached/php-memcached_3.3.0.orig.tar.gz 2b85bf6699497170801fb4d06eb9c9a06bfc551cdead04101dd75c980be9eebf memcached-3.3.0 --disable-memcached-sasl" ;;
    memcache) echo "pool/main/p/php-memcache/php-memcache_8.2.orig.tar.gz b3f0640eacdeb9046c6c86a1546d7fb8a4e9f219e5d9a36a287e59b2dd8208e5 memcache-8.2" ;;
    *) return 1 ;;
    esac
}
PECL_MODULES=(redis memcached memcache)

# These releases predate PHP 8.5, which removed the ext/standard smart_string
# headers and zend_exception_get_default(): $HERE/pecl/<dir>.patch moves them
# to the Zend headers and zend_ce_exception, which every PHP 8 has, so the
# same patched source builds on each minor version.
pecl_key() { # a hash of the sources, options and patches: the cache key
    local m
    for m in "${PECL_MODULES[@]}"; do pecl_source_of "$m"; done | cat - "$HERE"/pecl/*.patch |
        sha256sum | cut -c1-16
}

build_pecl() { # build_pecl <minor> <nts|zts>
    local v=$1-$2 prefix=$CACHE/php/$1-$2 key m
    local log=$CACHE/logs/$v-pecl-build.log
    key=$(pecl_key)
    [ -e "$prefix/.pecl-$key" ] && return 0
    : >"$log"
    mkdir -p "$CACHE/src" || return 1
    for m in "${PECL_MODULES[@]}"; do
        local path sum dir opts tarball dest
        read -r path sum dir opts <<<"$(pecl_source_of "$m")"
        tarball=$CACHE/src/$(basename "$path")
        dest=$CACHE/build/$v-pecl/$dir
        (
            [ -s "$tarball" ] || curl -fsS -o "$tarball" "$DEBIAN/$path" || exit 1
            echo "$sum  $tarball" | sha256sum -c --quiet - || {
                echo "matrix: $tarball does not match its pinned SHA-256"
                rm -f "$tarball"
                exit 1
            }
            rm -rf "$dest" && mkdir -p "$(dirname "$dest")" &&
                tar -xzf "$tarball" -C "$(dirname "$dest")" "$dir" || exit 1
            cd "$dest" || exit 1
            if [ -e "$HERE/pecl/$dir.patch" ]; then
                patch -p1 <"$HERE/pecl/$dir.patch" || exit 1
            fi
            # shellcheck disable=SC2086 # opts: words on purpose
            phpize_build "$prefix" $opts
        ) >>"$log" 2>&1 || {
            echo "matrix: building PECL $m for $v failed; the end of $log:" >&2
            tail -20 "$log" >&2
            return 1
        }
        echo "extension=$m.so" >"$prefix/etc/conf.d/40-$m.ini"
    done
    rm -f "$prefix"/.pecl-*
    touch "$prefix/.pecl-$key"
}

# --- 3.-6. the extension on a variant ------------------------------------------
run_runner() { # run_runner <label> <runner args...> <test dir>
    local label=$1
    shift
    local out rc totals
    out=$("$RUNNER" "$@" 2>&1)
    rc=$?
    totals=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed' | tail -1)
    echo "$out" | grep -Ev '^pass - ' | tail -30
    if [ "$rc" = 0 ]; then
        record ok "$label: integration-runner $totals"
    else
        record FAIL "$label: integration-runner ${totals:-did not finish} (exit $rc)"
    fi
}

cargo_test_summary() { # cargo_test_summary <log> -> "N passed, N failed, N ignored"
    local p f i
    p=$(grep -o '[0-9]* passed' "$1" | awk '{s += $1} END {print s + 0}')
    f=$(grep -o '[0-9]* failed' "$1" | awk '{s += $1} END {print s + 0}')
    i=$(grep -o '[0-9]* ignored' "$1" | awk '{s += $1} END {print s + 0}')
    echo "$p passed, $f failed, $i ignored"
}

test_variant() { # test_variant <minor> <nts|zts>
    local minor=$1 ts=$2 v=$1-$2
    local prefix=$CACHE/php/$v target=$CACHE/target/$v
    local php=$prefix/bin/php so=$target/debug/libnewrelic_php.so
    local env=(env PHP_CONFIG="$prefix/bin/php-config" CARGO_TARGET_DIR="$target"
        PATH="$prefix/bin:$prefix/sbin:$PATH" SERAPH_TEST_MOD_PHP="$prefix/apache/libphp.so"
        SERAPH_TEST_PHP_FPM="$prefix/sbin/php-fpm")
    local log=$CACHE/logs/$v

    step "$v: build the extension"
    if ! "${env[@]}" cargo build -p newrelic-php >"$log-cargo-build.log" 2>&1; then
        record FAIL "$v: cargo build -p newrelic-php (log: $log-cargo-build.log)"
        tail -30 "$log-cargo-build.log"
        return
    fi
    record ok "$v: cargo build -p newrelic-php against PHP $("$php" -n -r 'echo PHP_VERSION;')"

    step "$v: php --ri newrelic"
    local ri built
    ri=$("$php" -n -d "extension=$so" --ri newrelic 2>&1)
    built=$(grep '^Built for => ' <<<"$ri")
    echo "$ri" | grep -E 'Built for|Running on|RPM Monitoring'
    if grep -q '^New Relic RPM Monitoring => enabled' <<<"$ri" &&
        grep -qE "^Built for => PHP $("$php" -n -r 'echo PHP_VERSION;'), API [0-9]+, ${ts^^}\$" <<<"$ri"; then
        record ok "$v: php --ri newrelic: ${built#Built for => }"
    else
        record FAIL "$v: php --ri newrelic: ${built:-no Built for row}"
        echo "$ri" | head -20
    fi

    step "$v: cargo test -p newrelic-php"
    "${env[@]}" cargo test --no-fail-fast -p newrelic-php >"$log-cargo-test.log" 2>&1
    local rc=$?
    if [ "$rc" = 0 ]; then
        record ok "$v: cargo test -p newrelic-php: $(cargo_test_summary "$log-cargo-test.log")"
    else
        record FAIL "$v: cargo test -p newrelic-php: $(cargo_test_summary "$log-cargo-test.log") (log: $log-cargo-test.log)"
        grep -E '^test .* FAILED$|panicked at' "$log-cargo-test.log" | head -20
    fi
    if [ "$ts" = zts ]; then
        step "$v: the threaded Apache test (mpm_event), plainly and under helgrind"
        "${env[@]}" cargo test -p newrelic-php --test apache_threaded -- --ignored --nocapture \
            >"$log-threaded.log" 2>&1
        if [ $? = 0 ]; then
            record ok "$v: threaded Apache (mpm_event): $(grep -h '^threaded:' "$log-threaded.log" | tail -1)"
        else
            record FAIL "$v: threaded Apache (mpm_event) (log: $log-threaded.log)"
            grep -E 'panicked at|^threaded:' "$log-threaded.log" | head -20
        fi
        "${env[@]}" SERAPH_HELGRIND=1 cargo test -p newrelic-php --test apache_threaded -- \
            --ignored --nocapture >"$log-helgrind.log" 2>&1
        if [ $? = 0 ]; then
            record ok "$v: threaded Apache under helgrind: $(grep -h '^threaded:' "$log-helgrind.log" | tail -1)"
        else
            record FAIL "$v: threaded Apache under helgrind (log: $log-helgrind.log)"
            grep -E 'panicked at|^threaded:' "$log-helgrind.log" | head -20
        fi
    fi

    local p=(--agent "$so" --php "$php" --cgi "$prefix/bin/php-cgi")
    step "$v: integration-runner"
    # The real servers (MariaDB, PostgreSQL, Redis, memcached, RabbitMQ),
    # as CI runs them.
    p+=(--services)
    run_runner "$v" "${p[@]}" tests/integration
    run_runner "$v --opcacheoff" "${p[@]}" --opcacheoff tests/integration
    run_runner "$v --daemon" "${p[@]}" --daemon "$DAEMON" --threads 2 tests/integration
    if [[ ! $minor < 8.4 ]]; then
        run_runner "$v 8.4 features" "${p[@]}" tests/php-versions/php84
    fi
    if [ -n "${PHP_MATRIX_VALGRIND:-}" ]; then
        run_runner "$v --valgrind" "${p[@]}" --valgrind "$(command -v valgrind)" --threads 2 \
            tests/integration
    fi
}

# Loading a variant's extension into a PHP of another API version or thread
# safety: PHP's own message, exit status 0 (a warning), never a signal.
cross_load() { # cross_load <variant of the extension> <variant of the PHP>
    local so=$CACHE/target/$1/debug/libnewrelic_php.so php=$CACHE/php/$2/bin/php
    [ -e "$so" ] && [ -x "$php" ] || return 0
    local out rc
    out=$("$php" -n -d "extension=$so" -r 'echo extension_loaded("newrelic") ? "loaded" : "refused";' 2>&1)
    rc=$?
    if [ "$rc" -lt 128 ] && grep -q 'refused' <<<"$out" &&
        grep -qE 'These options need to match|Unable to initialize module' <<<"$out"; then
        record ok "extension for $1 in PHP $2: refused ($(grep -oE 'Module compiled with [a-zA-Z ]+=[^ ]*' <<<"$out" | head -1))"
    else
        record FAIL "extension for $1 in PHP $2: exit $rc, output: $(head -c 300 <<<"$out")"
    fi
}

# --- main ---------------------------------------------------------------------
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(8.2-nts 8.2-zts 8.4-nts 8.5-nts 8.5-zts)

mkdir -p "$CACHE/logs"
step "build the daemon and the integration runner (host PHP)"
[ -n "${PHP_MATRIX_PHP_ONLY:-}" ] ||
    cargo build -p seraph-daemon -p integration-runner >"$CACHE/logs/host-build.log" 2>&1 ||
    die "host build failed: see $CACHE/logs/host-build.log"
DAEMON=$REPO/target/debug/newrelic-daemon
RUNNER=$REPO/target/debug/integration-runner

BUILT=()
for spec in "${VARIANTS[@]}"; do
    variant=${spec%:check}
    minor=${variant%-*}
    ts=${variant#*-}
    [ "$ts" = nts ] || [ "$ts" = zts ] || die "bad variant $spec (want e.g. 8.5-zts)"
    source_of "$minor" >/dev/null || die "no source package known for PHP $minor"
    step "$variant: source package"
    tree=$(fetch "$minor") || {
        record FAIL "$variant: cannot fetch the source package"
        continue
    }
    echo "$tree"
    if [ "$spec" != "$variant" ]; then
        step "$variant: configure, then compile the extension against its headers"
        if ! build_php "$minor" "$ts" "$tree" configure-only; then
            record FAIL "$variant: configure"
            continue
        fi
        if env PHP_CONFIG="$CACHE/php/$variant/bin/php-config" CARGO_TARGET_DIR="$CACHE/target/$variant" cargo build -p newrelic-php \
            >"$CACHE/logs/$variant-cargo-build.log" 2>&1; then
            record ok "$variant: compile check against the headers of $(basename "$tree")"
        else
            record FAIL "$variant: compile check (log: $CACHE/logs/$variant-cargo-build.log)"
            tail -20 "$CACHE/logs/$variant-cargo-build.log"
        fi
        continue
    fi
    step "$variant: build PHP (nice, -j$JOBS; log: $CACHE/logs/$variant-php-build.log)"
    if ! build_php "$minor" "$ts" "$tree"; then
        record FAIL "$variant: PHP build"
        continue
    fi
    record ok "$variant: PHP $("$CACHE/php/$variant/bin/php" -n -r 'echo PHP_VERSION, PHP_ZTS ? " ZTS" : " NTS";') built from $(basename "$tree")"
    if ! build_modules "$minor" "$ts" "$tree"; then
        record FAIL "$variant: modules ${PHPIZE_MODULES[*]}"
        continue
    fi
    if ! build_pecl "$minor" "$ts"; then
        record FAIL "$variant: PECL modules ${PECL_MODULES[*]}"
        continue
    fi
    record ok "$variant: modules ${PHPIZE_MODULES[*]} soap, PECL ${PECL_MODULES[*]}"
    [ -n "${PHP_MATRIX_PHP_ONLY:-}" ] && continue
    test_variant "$minor" "$ts"
    BUILT+=("$variant")
done

if [ ${#BUILT[@]} -gt 1 ]; then
    step "cross-loading: another API version or thread safety is refused cleanly"
    for a in "${BUILT[@]}"; do
        for b in "${BUILT[@]}"; do
            [ "$a" = "$b" ] || cross_load "$a" "$b"
        done
    done
fi

printf '\n==> summary\n'
printf '%s\n' "${SUMMARY[@]}"
exit $FAILED
