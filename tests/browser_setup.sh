#!/usr/bin/env bash
# Install headless Chromium and its driver from Debian's packages, if they are missing.
# Called by CI before `pytest -m browser`; safe to run again (does nothing when both are present).
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
    echo "browser_setup: chromium and chromedriver already installed"
    exit 0
fi

if ! have apt-get; then
    echo "browser_setup: chromium is missing and there is no apt-get to install it: install chromium and chromedriver with this machine's package manager" >&2
    exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if have sudo; then SUDO="sudo"; else echo "browser_setup: need root or sudo to apt-get install chromium" >&2; exit 1; fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
chromium --version
