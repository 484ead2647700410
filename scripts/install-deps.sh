#!/usr/bin/env bash
# Installs everything pyexec needs to build, test and run, from Debian 12's repositories only.
# Idempotent: installs only what is missing, and touches apt only when something is.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake make pkg-config clang-format clang-tidy
  # the CPython the zygote embeds, and the libraries scripts may import
  python3 python3-dev libpython3.11-dev python3-numpy python3-pandas
  # C++ libraries
  libseccomp-dev libcap-dev nlohmann-json3-dev libcpp-httplib-dev libcli11-dev
  libgtest-dev libgmock-dev googletest libboost-dev
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (run as root to install): ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
