#!/usr/bin/env bash
# Installs the npm packages the browser tests and the widget build use
# (jQuery 1.12 and 3, acorn, axe-core; terser and clean-css for
# scripts/widget.sh) into e2e/browser/node_modules, which git ignores. Needs
# node and npm (Debian: nodejs, npm); installs them when missing.
set -euo pipefail
cd "$(dirname "$0")/../e2e/browser"
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "npm.sh: installing nodejs and npm"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ -f node_modules/jquery1/dist/jquery.min.js ] && [ -f node_modules/jquery3/dist/jquery.min.js ] && [ -f node_modules/acorn/dist/acorn.js ] && [ -f node_modules/axe-core/axe.min.js ] \
  && [ -f node_modules/terser/package.json ] && [ -f node_modules/clean-css/package.json ]; then
  echo "npm.sh: ok (already installed)"
  exit 0
fi
npm install --no-package-lock --no-audit --no-fund --loglevel=error
echo "npm.sh: ok"
