#!/usr/bin/env bash
# Builds the Jupyter kernel the workshop notebooks need: Python 3.11 with exactly the packages
# pinned in requirements/lock.txt, registered for the current user as "aml-workshop".
#
#   bash notebooks/workshop-kernel.sh      # in a compute instance's terminal (or on a laptop)
#
# The stack runs it as the creation script of every trainee compute instance it creates (inline,
# with the lock; see src/workshop_common/kernel.py). Azure runs setup scripts as root, and a kernel
# belongs to the user who runs Jupyter, so as root on a compute instance the script runs itself
# again as $CI_LOCAL_UBUNTU_USER (azureuser) through `sudo -u`, as Microsoft advises for conda
# environments and Jupyter kernels:
# https://learn.microsoft.com/en-us/azure/machine-learning/how-to-customize-compute-instance
#
# Python 3.11: WORKSHOP_PYTHON if set (an existing interpreter; the tests use this, no download),
# otherwise a uv-managed CPython 3.11 that uv downloads. The instance's own conda Pythons are
# other versions with other packages, so none of them is used for the kernel.
# uv: WORKSHOP_UV, else `uv` on PATH, else uv $UV_VERSION installed with pip into a small
# bootstrap venv (from the instance's conda Python, /anaconda/bin/python3, or python3).
#
# Environment (all optional): WORKSHOP_LOCK (default: ../requirements/lock.txt next to this
# script), WORKSHOP_PYTHON, WORKSHOP_UV, WORKSHOP_VENV (default: ~/.venvs/<kernel name>),
# WORKSHOP_KERNEL_NAME, WORKSHOP_KERNEL_DISPLAY_NAME. Running it again rebuilds the kernel.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
lock=${WORKSHOP_LOCK:-$here/../requirements/lock.txt}
name=${WORKSHOP_KERNEL_NAME:-aml-workshop}
display=${WORKSHOP_KERNEL_DISPLAY_NAME:-Python 3.11 (aml-workshop)}

say() { echo "workshop-kernel: $*"; }
fail() {
  echo "workshop-kernel: error: $*" >&2
  exit 1
}

[ -f "$lock" ] || fail "no lock file at $lock (set WORKSHOP_LOCK to the workshop's requirements/lock.txt)"
lock="$(cd "$(dirname "$lock")" && pwd)/$(basename "$lock")"
UV_VERSION=$(sed -n 's/^uv==\([^ ;]*\).*/\1/p' "$lock") # the uv the lock pins (as the Makefile)
[ -n "$UV_VERSION" ] || fail "$lock pins no uv"

if [ "$(id -u)" = 0 ] && [ -n "${CI_LOCAL_UBUNTU_USER:-}" ]; then
  # A compute instance setup script: build the kernel for the instance's user, not for root.
  pass=(WORKSHOP_LOCK="$lock" WORKSHOP_KERNEL_NAME="$name" WORKSHOP_KERNEL_DISPLAY_NAME="$display")
  for var in WORKSHOP_PYTHON WORKSHOP_UV WORKSHOP_VENV; do
    if [ -n "${!var:-}" ]; then pass+=("$var=${!var}"); fi
  done
  exec sudo -u "$CI_LOCAL_UBUNTU_USER" -H env "${pass[@]}" bash "$self"
fi

venv=${WORKSHOP_VENV:-$HOME/.venvs/$name}

bootstrap_uv() {
  local boot="$HOME/.cache/$name/uv-$UV_VERSION" py
  for py in /anaconda/bin/python3 python3; do
    if command -v "$py" >/dev/null && "$py" -m venv --clear "$boot" >/dev/null 2>&1 &&
      "$boot/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" >&2; then
      echo "$boot/bin/uv"
      return
    fi
  done
  fail "uv not found and pip could not install it: install uv $UV_VERSION, or set WORKSHOP_UV"
}

uv=${WORKSHOP_UV:-$(command -v uv || true)}
[ -n "$uv" ] || uv=$(bootstrap_uv)

if [ -n "${WORKSHOP_PYTHON:-}" ]; then
  python_args=(--python "$WORKSHOP_PYTHON" --no-python-downloads)
else
  python_args=(--python 3.11 --managed-python)
fi

say "Python 3.11 environment in $venv"
"$uv" venv --clear --quiet "${python_args[@]}" "$venv"
"$venv/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' ||
  fail "$("$venv/bin/python" -V) is not Python 3.11 (WORKSHOP_PYTHON=${WORKSHOP_PYTHON:-})"

say "installing the $(grep -c '==' "$lock") packages pinned in $lock"
"$uv" pip sync --quiet --python "$venv/bin/python" "$lock"

"$venv/bin/python" -m ipykernel install --user --name "$name" --display-name "$display" >/dev/null
say "kernel '$display' is ready: pick it in Jupyter or Studio (Kernel > Change kernel)"
