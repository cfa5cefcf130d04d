#!/bin/sh
# The portal's browser tests drive Debian's Chromium (never a browser Playwright downloads).
# `make test` runs this before pytest: it installs the package when it is missing.
set -e
BROWSER=${CHROMIUM_PATH:-/usr/bin/chromium}
if [ -x "$BROWSER" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_browser: $BROWSER is missing and there is no apt-get; install Chromium" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
echo "ensure_browser: installing Debian's chromium package"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
test -x "$BROWSER"
