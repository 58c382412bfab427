#!/usr/bin/env bash
# Puts every program the tests drive on PATH before the test run, or stops at once with one
# line naming what is missing and the command that installs it. `make test` runs it first,
# before setup.sh (so a machine that cannot get a program learns it in a second, not after
# the whole install), and scripts/test.sh again; .ci/run is `make test`. This list is the one
# place a test's program is declared. Non-root builds land in .venv/bin.
#
# Switches (the tests of this script use them; a user needs none):
#   PATCHWIRE_PROVISION_ROOT=0   behave as a non-root user even when root (no apt-get)
#   PATCHWIRE_PROVISION_FALLBACK=0   do not try the pip/npm builds either
set -euo pipefail
cd "$(dirname "$0")/.."

# One program per line: the program the tests look up on PATH, the Debian package that
# provides it ("-" when none does), and a build installed into .venv when apt-get cannot be
# used or has no package ("-" when there is none): pip:DIST:FILE (FILE is the program's path
# inside site-packages), npm:PACKAGE:BIN (BIN under node_modules/.bin) or sh:SCRIPT:FILE (a
# script of the repo that installs FILE, a path under the repo).
PROGRAMS='
jq              jq              -
pandoc          pandoc          pip:pypandoc-binary:pypandoc/files/pandoc
git             git             -
redis-server    redis-server    -
tinyproxy       tinyproxy       -
prometheus      prometheus      -
openssl         openssl         -
mcp-conformance -               sh:plugins/patchwire-mcp/conformance/provision.sh:.venv/node/bin/mcp-conformance
'

venv_bin="$PWD/.venv/bin"
export PATH="$venv_bin:$PATH"

is_root() {
  [ "${PATCHWIRE_PROVISION_ROOT:-1}" != 0 ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1
}

missing() {
  local prog pkg fallback
  while read -r prog pkg fallback; do
    [ -n "$prog" ] || continue
    command -v "$prog" >/dev/null 2>&1 || echo "$prog $pkg $fallback"
  done <<<"$PROGRAMS"
}

stop() {
  # $1: the missing entries. One line: what is missing and the command that installs it.
  local progs pkgs others how
  progs=$(awk '{print $1}' <<<"$1" | paste -sd, - | sed 's/,/, /g')
  pkgs=$(awk '$2 != "-" {print $2}' <<<"$1" | tr '\n' ' ' | sed 's/ $//')
  others=$(awk '$2 == "-" {split($3, f, ":"); print (f[1] == "sh" ? f[2] : f[1] " install " f[2])}' <<<"$1" | paste -sd';' - | sed 's/;/; /g')
  how=${pkgs:+sudo apt-get install -y $pkgs}
  how=${how:+$how${others:+; }}$others
  echo "make test: missing $progs (the tests drive them); install with: $how" >&2
  exit 1
}

install_fallback() {
  # $1 program, $2 fallback spec. Installs into .venv and links the program into .venv/bin.
  local prog=$1 kind dist file target
  IFS=: read -r kind dist file <<<"$2"
  case "$kind" in
    pip)
      [ -x "$venv_bin/python" ] || "${PYTHON:-python3}" -m venv .venv >&2 || return 1
      "$venv_bin/python" -m pip install -q "$dist" >&2 || return 1
      target=$("$venv_bin/python" -c 'import sys, sysconfig; print(sysconfig.get_paths()["purelib"] + "/" + sys.argv[1])' "$file")
      ;;
    npm)
      command -v npm >/dev/null 2>&1 || return 1
      npm install --silent --no-save --prefix "$PWD/.venv/node" "$dist" >&2 || return 1
      target="$PWD/.venv/node/node_modules/.bin/$file"
      ;;
    sh)
      "./$dist" >&2 || return 1
      target="$PWD/$file"
      ;;
    *) return 1 ;;
  esac
  [ -f "$target" ] || return 1
  chmod +x "$target"
  # make test provisions before setup.sh creates the venv: its bin folder may not exist yet
  # (python -m venv fills an existing folder later as it would an empty one).
  mkdir -p "$venv_bin"
  ln -sf "$target" "$venv_bin/$prog"
}

need=$(missing)
[ -z "$need" ] && exit 0

# What nothing here can install (no apt-get as this user, no pip/npm build): say so now.
if is_root; then
  hopeless=$(awk '$2 == "-" && $3 == "-"' <<<"$need")
elif [ "${PATCHWIRE_PROVISION_FALLBACK:-1}" != 0 ]; then
  hopeless=$(awk '$3 == "-"' <<<"$need")
else
  hopeless=$need
fi
[ -z "$hopeless" ] || stop "$need"

pkgs=$(awk '$2 != "-" {print $2}' <<<"$need" | tr '\n' ' ')
if is_root && [ -n "${pkgs// /}" ]; then
  export DEBIAN_FRONTEND=noninteractive
  echo "provision: apt-get install $pkgs" >&2
  apt-get update -qq >&2 || true
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -qq --no-install-recommends $pkgs >/dev/null || true
  need=$(missing)
fi
if [ -n "$need" ] && [ "${PATCHWIRE_PROVISION_FALLBACK:-1}" != 0 ]; then
  while read -r prog _pkg fallback; do
    [ "$fallback" = - ] && continue
    echo "provision: installing $prog into .venv ($fallback)" >&2
    install_fallback "$prog" "$fallback" || true
  done <<<"$need"
fi

need=$(missing)
[ -z "$need" ] && exit 0
stop "$need"
