#!/usr/bin/env bash
# Create .venv with a Python >= 3.11 and install Voronka into it (idempotent, quiet).
# Usage: tools/bootstrap.sh [extra]   e.g. tools/bootstrap.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-}

pick_python() {
  for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "Voronka needs Python 3.11 or newer; none was found on PATH." >&2
  exit 1
}

if [ ! -x .venv/bin/python ]; then
  "$(pick_python)" -m venv .venv
fi
stamp=".venv/.installed-${extra:-base}"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  target="."
  [ -n "$extra" ] && target=".[$extra]"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$target"
  touch "$stamp"
fi
