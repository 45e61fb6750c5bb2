#!/usr/bin/env bash
# Install the Debian packages custos needs to build, test and run its demo.
# Installs only what is missing; needs root (or sudo) when something is.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev curl jq ca-certificates
      libssl-dev libsodium-dev libsqlite3-dev libmicrohttpd-dev libgnutls28-dev libjansson-dev libzstd-dev libhpdf-dev
      sqlite3 wrk openssl)
missing=()
# Node.js and npm (the Cedar reference engine for differential tests, the
# console's front-end build): a machine may have them from another Debian
# source (nodejs with npm built in), so look for the commands first.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
pkgs+=(chromium fonts-dejavu-core)  # the console's browser tests (Debian's Chromium, driven by playwright-core)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
