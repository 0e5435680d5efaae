#!/usr/bin/env bash
# setup.sh - install the Debian packages autotune needs to build and test. Idempotent:
# installs only what is missing, and prints nothing when everything is there.
# The CUDA Toolkit (/usr/local/cuda or $CUDA_PATH) is optional and not installed here.
set -euo pipefail

packages=(build-essential cmake ninja-build pkg-config
          libsqlite3-dev libcriterion-dev libmsgpack-dev
          clang-19 lld-19 llvm-19 libclang-19-dev
          libamdhip64-dev zlib1g-dev python3-pytest
          chromium help2man zsh   # the report's browser test, the man page, zsh completion check
          slurm-wlm munge sqlite3)  # the real single-node Slurm test

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
