#!/usr/bin/env bash
# Installs DuckDB's Node.js client (@duckdb/node-api) into tests/.tools,
# which git ignores, for the tests that check our Parquet files against
# DuckDB. Idempotent: does nothing when it is already there. The version
# is pinned so every run checks against the same reader; OAST_DUCKDB_VERSION
# overrides it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="${OAST_NODE_TOOLS:-$here/../.tools}"
version="${OAST_DUCKDB_VERSION:-1.5.6-r.1}"
if [ -f "$tools/node_modules/@duckdb/node-api/package.json" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "duckdb-setup: npm is missing (scripts/install-deps installs it)" >&2
  exit 1
fi
mkdir -p "$tools"
[ -f "$tools/package.json" ] || echo '{"private": true}' > "$tools/package.json"
npm install --prefix "$tools" --no-audit --no-fund --loglevel=error "@duckdb/node-api@$version" >&2
