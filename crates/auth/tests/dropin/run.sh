#!/usr/bin/env bash
# The drop-in suite: the real TypeScript Better Auth (the npm package pinned in this
# folder's package.json) and our server side by side on the same databases.
#
#   crates/auth/tests/dropin/run.sh target/debug/better-auth-server
#
# Env: TEST_DATABASE_URL (PostgreSQL; without it only SQLite runs, unless
# BETTER_AUTH_REQUIRE_POSTGRES=1, which makes that a failure).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"

# better-sqlite3 compiles from source when no prebuilt binary can be downloaded; use the
# installed Node headers for it (no header download).
prefix="$(dirname "$(dirname "$(command -v node)")")"
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/node.h" ]; then
  export npm_config_nodedir="$prefix"
fi
if [ ! -d "$HERE/node_modules/better-auth" ] || [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd "$HERE" && node -e 'const D=require("better-sqlite3"); new D(":memory:").close()')

if [ -z "${TEST_DATABASE_URL:-}" ] && [ "${BETTER_AUTH_REQUIRE_POSTGRES:-}" = "1" ]; then
  echo "BETTER_AUTH_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set" >&2
  exit 1
fi
cd "$HERE"
BETTER_AUTH_BIN="$BIN" node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs
