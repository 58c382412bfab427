#!/usr/bin/env bash
# Creates .venv (if needed) and installs every distribution in the repo in editable mode,
# plus the development tools. Re-runs only when a pyproject or requirements file changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "patchwire needs Python >= 3.11; set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
dists=(core)
for d in plugins/*/ contrib/*/; do
  [ -f "$d/pyproject.toml" ] || continue
  case "$d" in contrib/template/) continue ;; esac
  dists+=("${d%/}")
done
stamp=.venv/.patchwire-installed
want=$(cat requirements-dev.txt "${dists[@]/%//pyproject.toml}" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
.venv/bin/python -m pip install -q --upgrade pip
args=()
for d in "${dists[@]}"; do args+=(-e "$d"); done
.venv/bin/python -m pip install -q -r requirements-dev.txt "${args[@]}"
echo "$want" > "$stamp"
