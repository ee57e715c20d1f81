#!/usr/bin/env bash
# Installs what the project needs and is missing: Debian packages (deps/apt.txt) and a
# virtualenv at .venv with the project in it. Safe to run again; does nothing when done.
# With --bench, also the benchmark baselines (deps/apt-bench.txt and the `bench` extra).
set -euo pipefail
cd "$(dirname "$0")/.."

lists=(deps/apt.txt)
extras="test"
if [ "${1:-}" = "--bench" ]; then
  lists+=(deps/apt-bench.txt)
  extras="test,bench"
fi
want=$(cat "${lists[@]}" | grep -v '^\s*#' | tr -s ' \n' ' ')
missing=()
for pkg in $want; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "Installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
stamp=.venv/.installed
digest=$( (cat pyproject.toml; echo "$extras") | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  echo "Installing the project into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[$extras]"
  echo "$digest" > "$stamp"
fi
