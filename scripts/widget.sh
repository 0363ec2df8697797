#!/usr/bin/env bash
# Builds the served widget (assets/dist/widget.min.js, widget.min.css,
# messenger.min.js) from the readable sources in assets/, with terser and
# clean-css from npm (installed by scripts/npm.sh, never committed). The
# built files are committed, so `go build` needs no npm; run this (or
# `make widget`) after editing widget.js, widget.css or messenger.js.
# An optional argument writes the build elsewhere (the browser tests build
# into a temporary directory and compare).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/npm.sh" >/dev/null
node "$root/scripts/build-widget.js" "${1:-$root/assets/dist}"
