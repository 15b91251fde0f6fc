#!/usr/bin/env bash
# Installs the C toolchains and simulators the C VM builds and tests need
# (shared/design/TOOLCHAINS.md), when they are missing. Idempotent; needs root.
set -euo pipefail
PKGS=(gcc-avr avr-libc binutils-avr simavr libsimavr-dev libelf-dev pkg-config
      gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
      clang lld llvm mspdebug msp430mcu libcoap3-bin libclang-rt-14-dev valgrind libcjson-dev libssl-dev make gcc socat)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "toolchains: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "toolchains: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "toolchains: run as root (apt-get install -y ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "toolchains: installed ${#missing[@]} packages"
