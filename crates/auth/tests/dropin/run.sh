#!/usr/bin/env bash
# The drop-in suite: the real TypeScript Better Auth (the npm package pinned in
# ../shared/bench/reference) and our server side by side on the same databases.
#
#   crates/auth/tests/dropin/run.sh target/debug/better-auth-server
#
# Env: TEST_DATABASE_URL (PostgreSQL; without it only SQLite runs, unless
# BETTER_AUTH_REQUIRE_POSTGRES=1, which makes that a failure), REFERENCE_DIR (default: the
# first of ../shared/bench/reference next to the repository and /work/shared/bench/reference).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"

if [ -z "${REFERENCE_DIR:-}" ]; then
  for dir in "$ROOT/../shared/bench/reference" /work/shared/bench/reference; do
    if [ -f "$dir/server.mjs" ]; then REFERENCE_DIR="$(cd "$dir" && pwd)"; break; fi
  done
fi
if [ ! -f "${REFERENCE_DIR:-}/server.mjs" ]; then
  echo "drop-in suite: the reference server (../shared/bench/reference) is missing" >&2
  exit 1
fi
bash "$REFERENCE_DIR/start.sh" --install-only
# start.sh installs into a cache folder when the reference folder is read-only.
MODULES="$REFERENCE_DIR/node_modules"
if [ ! -d "$MODULES/better-auth" ]; then
  MODULES="${BENCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/better-auth-bench}/reference/node_modules"
fi
# Our scripts import better-auth, pg, better-sqlite3 and jose from the reference's install
# (one pinned copy of upstream for both the server and the tests).
ln -sfn "$MODULES" "$HERE/node_modules"

if [ -z "${TEST_DATABASE_URL:-}" ] && [ "${BETTER_AUTH_REQUIRE_POSTGRES:-}" = "1" ]; then
  echo "BETTER_AUTH_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set" >&2
  exit 1
fi
cd "$HERE"
BETTER_AUTH_BIN="$BIN" REFERENCE_SERVER="$(dirname "$MODULES")/server.mjs" \
  node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs
