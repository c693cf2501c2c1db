#!/usr/bin/env bash
# Builds the Next.js app, starts better-auth-server and the example API for both setups,
# starts the app twice, and runs the Playwright tests in headless Chromium.
#
#   (a) cross-origin: app http://localhost:3100, auth http://localhost:3101, API :3103
#   (b) same origin:  app http://localhost:3200 (rewrites /api/auth/* to auth on :3102),
#                     API :3203 (reads the JWKS through the app's rewrite)
#   (c) cross-origin, for the third cookie-cache strategy only: app http://localhost:3300,
#       auth http://localhost:3301
#   both: an OpenID Provider (oidc-provider, crates/auth/tests/oidc/op-server.mjs) on
#         http://127.0.0.1:3104, configured on both auth servers as the provider "oidc"
#   the session cookie cache: (a) compact, (b) jwe, (c) jwt; proxy.ts and app/cached read it
#   the open-api plugin on (a): its reference page, offline (tests/reference.test.mjs)
#   (a) and (b) run the username, multi-session, anonymous and last-login-method plugins
#
# Every port must be free before it starts: a port in use is an error, not a reuse.
# Needs the debug binaries (scripts/test.sh builds them), node_modules (npm ci) and
# /usr/bin/chromium (Debian's `chromium` package).
set -euo pipefail
cd "$(dirname "$0")"
HERE="$PWD"
ROOT="$(cd .. && pwd)"
AUTH_BIN="${AUTH_BIN:-$ROOT/target/debug/better-auth-server}"
API_BIN="${API_BIN:-$ROOT/target/debug/better-auth-api}"
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
  # Each service leads its own process group (setsid): next start forks workers.
  for pid in "${PIDS[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_for() {
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "not up: $1" >&2
  for f in "$WORK"/*.log; do echo "--- $f"; tail -n 20 "$f"; done >&2
  return 1
}

start() { # name, then the command
  local name="$1"; shift
  setsid "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
}

for port in 3100 3101 3102 3103 3104 3200 3203 3300 3301; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is already in use: stop whatever runs there first" >&2
    exit 1
  fi
done

[ -d node_modules/next ] || npm ci --no-audit --no-fund --loglevel=error
OIDC_DIR="$ROOT/crates/auth/tests/oidc"
[ -d "$OIDC_DIR/node_modules/oidc-provider" ] || (cd "$OIDC_DIR" && npm ci --no-audit --no-fund --loglevel=error)
echo "-- next build"
AUTH_INTERNAL_URL=http://127.0.0.1:3102 NEXT_TELEMETRY_DISABLED=1 node node_modules/next/dist/bin/next build >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; exit 1; }

secret="web-tests-secret-$(date +%s)-0123456789abcdef"
mkdir -p "$WORK/auth-a" "$WORK/auth-b" "$WORK/auth-c"
OP=http://127.0.0.1:3104
start op node "$OIDC_DIR/op-server.mjs" 3104 \
  http://localhost:3101/api/auth/callback/oidc http://localhost:3200/api/auth/callback/oidc
cat >"$WORK/auth.toml" <<EOF
[[social_providers]]
id = "oidc"
kind = "oidc"
client_id = "web-tests"
client_secret = "web-tests-client-secret-0123456789"
discovery_url = "$OP/.well-known/openid-configuration"
scopes = ["email", "profile"]
EOF
start auth-a env RUST_LOG=warn BETTER_AUTH_SECRET="$secret" BETTER_AUTH_DATA_DIR="$WORK/auth-a" DATABASE_URL= \
  BETTER_AUTH_CONFIG="$WORK/auth.toml" BETTER_AUTH_PLUGINS=username,multi-session,anonymous,last-login-method,open-api \
  BETTER_AUTH_COOKIE_CACHE=true BETTER_AUTH_COOKIE_CACHE_STRATEGY=compact \
  HOST=127.0.0.1 PORT=3101 BETTER_AUTH_URL=http://localhost:3101 BETTER_AUTH_TRUSTED_ORIGINS=http://localhost:3100 \
  "$AUTH_BIN" serve
start auth-b env RUST_LOG=warn BETTER_AUTH_SECRET="$secret" BETTER_AUTH_DATA_DIR="$WORK/auth-b" DATABASE_URL= \
  BETTER_AUTH_CONFIG="$WORK/auth.toml" BETTER_AUTH_PLUGINS=username,multi-session,anonymous,last-login-method \
  BETTER_AUTH_COOKIE_CACHE=true BETTER_AUTH_COOKIE_CACHE_STRATEGY=jwe \
  HOST=127.0.0.1 PORT=3102 BETTER_AUTH_URL=http://localhost:3200 BETTER_AUTH_TRUSTED_ORIGINS= \
  BETTER_AUTH_TRUSTED_PROXIES=127.0.0.1 \
  "$AUTH_BIN" serve
start auth-c env RUST_LOG=warn BETTER_AUTH_SECRET="$secret" BETTER_AUTH_DATA_DIR="$WORK/auth-c" DATABASE_URL= \
  BETTER_AUTH_PLUGINS=username,multi-session BETTER_AUTH_COOKIE_CACHE=true BETTER_AUTH_COOKIE_CACHE_STRATEGY=jwt \
  HOST=127.0.0.1 PORT=3301 BETTER_AUTH_URL=http://localhost:3301 BETTER_AUTH_TRUSTED_ORIGINS=http://localhost:3300 \
  "$AUTH_BIN" serve
# The apps get the secret for getCookieCache (app/cached/page.jsx), as a Next.js app would.
start app-a env NEXT_TELEMETRY_DISABLED=1 AUTH_PUBLIC_URL=http://localhost:3101 API_URL=http://localhost:3103 \
  AUTH_SERVER_URL=http://localhost:3101 BETTER_AUTH_SECRET="$secret" COOKIE_CACHE_STRATEGY=compact \
  node node_modules/next/dist/bin/next start -p 3100
start app-b env NEXT_TELEMETRY_DISABLED=1 AUTH_PUBLIC_URL= API_URL=http://localhost:3203 \
  AUTH_SERVER_URL=http://127.0.0.1:3102 BETTER_AUTH_SECRET="$secret" COOKIE_CACHE_STRATEGY=jwe \
  node node_modules/next/dist/bin/next start -p 3200
start app-c env NEXT_TELEMETRY_DISABLED=1 AUTH_PUBLIC_URL=http://localhost:3301 API_URL=http://localhost:3103 \
  AUTH_SERVER_URL=http://localhost:3301 BETTER_AUTH_SECRET="$secret" COOKIE_CACHE_STRATEGY=jwt \
  node node_modules/next/dist/bin/next start -p 3300
wait_for $OP/.well-known/openid-configuration
wait_for http://127.0.0.1:3101/api/auth/ok
wait_for http://127.0.0.1:3102/api/auth/ok
wait_for http://localhost:3100/
wait_for http://localhost:3200/api/auth/ok
wait_for http://127.0.0.1:3301/api/auth/ok
wait_for http://localhost:3300/
start api-a env RUST_LOG=warn BETTER_AUTH_URL=http://localhost:3101 API_AUDIENCE= HOST=127.0.0.1 PORT=3103 "$API_BIN"
start api-b env RUST_LOG=warn BETTER_AUTH_URL=http://localhost:3200 API_AUDIENCE= HOST=127.0.0.1 PORT=3203 "$API_BIN"
wait_for http://127.0.0.1:3103/health
wait_for http://127.0.0.1:3203/health

rm -rf "$HERE/artifacts"
echo "-- Playwright in headless Chromium (screenshots in web-tests/artifacts/)"
if ! APP_CROSS_ORIGIN=http://localhost:3100 APP_SAME_ORIGIN=http://localhost:3200 APP_JWT_CACHE=http://localhost:3300 \
  OP_URL=$OP node --test --test-concurrency=1 tests/; then
  for f in "$WORK"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
  exit 1
fi
