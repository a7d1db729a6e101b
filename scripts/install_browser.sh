#!/usr/bin/env bash
# Install Debian's Chromium for the UI's real-browser test (tests/app/ui/test_browser.py).
# Idempotent: does nothing when /usr/bin/chromium is already there. Never runs `playwright install`:
# the test drives this system browser through the playwright package's executable_path.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
$SUDO apt-get update
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
/usr/bin/chromium --version
