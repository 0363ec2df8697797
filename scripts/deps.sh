#!/usr/bin/env bash
# Installs, when missing, everything `make test` uses from the system, on a
# Debian machine that has only Go. Each need is checked by the file or
# command the tests use, not by package name, so a machine that has it from
# elsewhere installs nothing. docs/operations.md ("What the tests need")
# lists the same table with the reasons.
#
#   what the tests use                        package               used by
#   make, bash                                make                  make test
#   git (commit in -version, gofmt file list) git                   Makefile
#   /etc/ssl/certs/ca-certificates.crt        ca-certificates       go and npm downloads
#   mariadbd, mariadb-install-db              mariadb-server-core   internal/testsvc, store, bridge
#   php (php -S, WordPress, OctoberCMS)       php-cli               bridge, plugins, e2e
#   php mysqli + pdo_mysql                    php-mysql             plugins (WordPress, OctoberCMS)
#   php curl (WordPress HTTP calls)           php-curl              plugins
#   /usr/share/wordpress/wp-settings.php      wordpress             plugins, e2e
#   /usr/bin/chromium                         chromium              e2e/browser, plugins
#   a sans-serif font for Chromium to render  fonts-dejavu-core     e2e/browser, plugins
#   redis-server                              redis-server          cluster, e2e
#   /usr/share/javascript/jquery/jquery.min.js libjs-jquery         server (/jquery.js), e2e
#   node, npm (scripts/npm.sh: jQuery 1/3, acorn) nodejs, npm       e2e/browser
#
# mariadb-server-core brings the server binaries without a system service.
# Debian has no such split for redis-server, and the wordpress package
# depends on a web server (apache2 on a machine that has none): on a fresh
# machine apt starts those services. This script never stops, starts or
# reconfigures any system service: the tests start their own MariaDB,
# Redis and PHP on free loopback ports with temporary data directories.
#
# `deps.sh run` installs only jQuery for the demo page (served at /jquery.js).
set -euo pipefail
have() { command -v "$1" >/dev/null 2>&1; }
install() {
  export DEBIAN_FRONTEND=noninteractive
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    have sudo || { echo "deps: need root or sudo to install: $*" >&2; return 1; }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if [ "${1:-}" = run ]; then
  [ -f /usr/share/javascript/jquery/jquery.min.js ] && exit 0
  install libjs-jquery || echo "deps: could not install libjs-jquery; the widget will fetch jQuery from a CDN"
  exit 0
fi
phpmod() { php -m 2>/dev/null | grep -qix "$1"; }
need=()
have make || need+=(make)
have git || need+=(git)
[ -f /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
{ [ -x /usr/sbin/mariadbd ] && have mariadb-install-db; } || need+=(mariadb-server-core)
have php || need+=(php-cli)
{ phpmod mysqli && phpmod pdo_mysql; } || need+=(php-mysql)
phpmod curl || need+=(php-curl)
[ -f /usr/share/wordpress/wp-settings.php ] || need+=(wordpress)
[ -x /usr/bin/chromium ] || need+=(chromium)
compgen -G '/usr/share/fonts/truetype/*/*.ttf' >/dev/null || need+=(fonts-dejavu-core)
have redis-server || need+=(redis-server)
[ -f /usr/share/javascript/jquery/jquery.min.js ] || need+=(libjs-jquery)
have node || need+=(nodejs)
have npm || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "deps: installing ${need[*]}"
  install "${need[@]}"
fi
echo "deps: ok"
