#!/usr/bin/env bash
# Installs the real servers the tests use (Debian packages), when missing.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have mariadbd || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
have php || need+=(php-cli)
php -m 2>/dev/null | grep -qi '^mysqli$' || need+=(php-mysql)
have chromium || need+=(chromium)
have redis-server || need+=(redis-server)
[ -f /usr/share/wordpress/wp-settings.php ] || need+=(wordpress)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Installed services must not hold the default ports; tests start their own.
for s in mariadb redis-server nginx; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$s" >/dev/null 2>&1 || true; fi
done
echo "deps: ok"
