#!/usr/bin/env bash
# Runs every test in the repo, after scripts/provision.sh has put the programs they drive on
# PATH. Exit code 5 (no tests collected) is a failure, never a pass.
set -uo pipefail
cd "$(dirname "$0")/.."
# Every program the tests drive is on PATH first, or the run stops here with one line.
bash scripts/provision.sh || exit 1
export PATH="$PWD/.venv/bin:$PATH"
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$rc"
