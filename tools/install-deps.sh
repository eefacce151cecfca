#!/usr/bin/env bash
# Installs every Debian 12 package Tasker needs to build, test and run.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libcaf-dev libpqxx-dev libtomlplusplus-dev libspdlog-dev doctest-dev
  nlohmann-json3-dev libcpp-httplib-dev prometheus-cpp-dev libcli11-dev
  postgresql-15 postgresql-client-15 procps python3
  libssl-dev openssl libjemalloc-dev
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
