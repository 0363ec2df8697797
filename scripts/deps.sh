#!/usr/bin/env bash
# Installs the real servers the tests use (Debian packages), when missing.
set -euo pipefail
need=()
# `deps.sh run` needs only jQuery for the demo page (served at /jquery.js).
if [ "${1:-}" = run ]; then
  [ -f /usr/share/javascript/jquery/jquery.min.js ] && exit 0
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends libjs-jquery >/dev/null) \
    || echo "deps: could not install libjs-jquery; the widget will fetch jQuery from a CDN"
  exit 0
fi
have() { command -v "$1" >/dev/null 2>&1; }
have mariadbd || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
have php || need+=(php-cli)
php -m 2>/dev/null | grep -qi '^mysqli$' || need+=(php-mysql)
php -m 2>/dev/null | grep -qi '^curl$' || need+=(php-curl)
have chromium || need+=(chromium)
have redis-server || need+=(redis-server)
[ -f /usr/share/wordpress/wp-settings.php ] || need+=(wordpress)
[ -f /usr/share/javascript/jquery/jquery.min.js ] || need+=(libjs-jquery)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# System services are left alone: the tests start their own MariaDB, Redis
# and PHP on free loopback ports with temporary data directories, so a
# running system MariaDB or Redis on the default port does not matter.
echo "deps: ok"
