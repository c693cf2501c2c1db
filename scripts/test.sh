#!/usr/bin/env bash
# Runs every test: the Rust unit and black-box HTTP tests (SQLite, and PostgreSQL when
# TEST_DATABASE_URL is set); the real better-auth client, jose and PyJWT against the server
# on SQLite and on PostgreSQL; the drop-in suite (the real TypeScript Better Auth and ours on
# the same databases, crates/auth/tests/dropin); the Next.js app in headless Chromium (web-tests/).
#
#   ./scripts/test.sh
#   TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

echo "== cargo fmt --check, clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings

# Python venv: PyJWT for the verifier tests, aiosmtpd for the SMTP server the account
# lifecycle tests capture mail with (the Rust tests find it through BETTER_AUTH_TEST_PYTHON).
PY_DIR="$ROOT/crates/auth/tests/python"
VENV="$ROOT/target/py-venv"
if [ ! -x "$VENV/bin/python" ] || [ "$PY_DIR/requirements.txt" -nt "$VENV/.installed" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$PY_DIR/requirements.txt"
  touch "$VENV/.installed"
fi
export BETTER_AUTH_TEST_PYTHON="$VENV/bin/python"

echo "== deployment files: docker-compose.yml, Dockerfile, .env.example (structure)"
(cd "$PY_DIR" && "$VENV/bin/python" -m unittest test_deploy_files)

echo "== cargo test (Rust unit and HTTP tests)"
cargo test --workspace --all-features

echo "== client and verifier tests (Node: better-auth client, jose; Python: PyJWT)"
CLIENT_DIR="$ROOT/crates/auth/tests/client"
if [ ! -d "$CLIENT_DIR/node_modules/better-auth" ] || [ "$CLIENT_DIR/package-lock.json" -nt "$CLIENT_DIR/node_modules/.package-lock.json" ]; then
  (cd "$CLIENT_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
# Same flags as the test build, so this reuses its artifacts instead of recompiling.
cargo build --quiet --workspace --all-features --bins
BIN="$ROOT/target/debug/better-auth-server"

echo "== OpenAPI document of the open-api plugin: openapi-spec-validator (OpenAPI 3.1)"
(cd "$PY_DIR" && BETTER_AUTH_BIN="$BIN" "$VENV/bin/python" -m unittest test_openapi)

WORK="$(mktemp -d)"
SERVER_PID=""
PG_SCHEMA=""
OIDC_SCHEMA=""
cleanup() {
  if [ -n "$OIDC_SCHEMA" ]; then psql "$TEST_DATABASE_URL" -qc "drop schema if exists \"$OIDC_SCHEMA\" cascade" >/dev/null 2>&1 || true; fi
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  if [ -n "$PG_SCHEMA" ]; then psql "$TEST_DATABASE_URL" -qc "drop schema if exists \"$PG_SCHEMA\" cascade" >/dev/null 2>&1 || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run_client_tests NAME DATABASE_URL [plugins|deferred]: the client and verifier tests against
# our server on that database; with "plugins", the client plugins' tests (plugins.test.mjs)
# against a server with the five plugins and the fields of tests/client/plugins.toml; with
# "deferred", deferred.test.mjs against a server with tests/client/deferred.toml.
run_client_tests() {
  local name="$1" db="$2" mode="${3:-}" port
  port="$(free_port)"
  mkdir -p "$WORK/$name"
  local extra=()
  if [ "$mode" = plugins ]; then
    extra=(BETTER_AUTH_CONFIG="$CLIENT_DIR/plugins.toml"
      BETTER_AUTH_PLUGINS=username,anonymous,multi-session,one-time-token,last-login-method)
  elif [ "$mode" = deferred ]; then
    extra=(BETTER_AUTH_CONFIG="$CLIENT_DIR/deferred.toml")
  fi
  # These suites sign up and in many times a second from one address: rate limiting (covered
  # by the Rust tests) is off here.
  env "${extra[@]}" BETTER_AUTH_DATA_DIR="$WORK/$name" DATABASE_URL="$db" PORT="$port" HOST=127.0.0.1 \
    BETTER_AUTH_URL="http://127.0.0.1:$port" BETTER_AUTH_SECRET="client-test-secret-$(date +%s)-0123456789abcdef" \
    BETTER_AUTH_RATE_LIMIT_ENABLED=false RUST_LOG=warn "$BIN" serve >"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/api/auth/ok" >/dev/null 2>&1 && break
    sleep 0.2
  done
  echo "-- client tests against the server on $name"
  local ok=1
  if [ "$mode" = plugins ]; then
    (cd "$CLIENT_DIR" && AUTH_URL="http://127.0.0.1:$port" AUTH_PLUGINS=1 node --test plugins.test.mjs) || ok=0
  elif [ "$mode" = deferred ]; then
    (cd "$CLIENT_DIR" && AUTH_URL="http://127.0.0.1:$port" AUTH_DEFERRED=1 node --test deferred.test.mjs) || ok=0
  else
    (cd "$CLIENT_DIR" && AUTH_URL="http://127.0.0.1:$port" node --test) &&
      (cd "$PY_DIR" && AUTH_URL="http://127.0.0.1:$port" "$VENV/bin/python" -m unittest -v test_pyjwt) || ok=0
  fi
  if [ "$ok" != 1 ]; then
    cat "$WORK/$name.log"
    return 1
  fi
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

run_client_tests sqlite "sqlite://$WORK/auth.db?mode=rwc"
run_client_tests sqlite-plugins "sqlite://$WORK/plugins.db?mode=rwc" plugins
run_client_tests sqlite-deferred "sqlite://$WORK/deferred.db?mode=rwc" deferred
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  PG_SCHEMA="client_$(date +%s)_$$"
  psql "$TEST_DATABASE_URL" -qc "create schema \"$PG_SCHEMA\"" >/dev/null
  sep='?'; case "$TEST_DATABASE_URL" in *\?*) sep='&';; esac
  run_client_tests postgres "${TEST_DATABASE_URL}${sep}options=-c%20search_path%3D${PG_SCHEMA}"
  # The plugin columns in a schema of their own.
  psql "$TEST_DATABASE_URL" -qc "drop schema \"$PG_SCHEMA\" cascade; create schema \"$PG_SCHEMA\"" >/dev/null
  run_client_tests postgres-plugins "${TEST_DATABASE_URL}${sep}options=-c%20search_path%3D${PG_SCHEMA}" plugins
elif [ "${BETTER_AUTH_REQUIRE_POSTGRES:-}" = "1" ]; then
  echo "BETTER_AUTH_REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set" >&2
  exit 1
else
  echo "TEST_DATABASE_URL is not set: skipping the client tests on PostgreSQL"
fi
echo "== social sign-in: a real OpenID Provider (oidc-provider) and recorded GitHub/Google answers on loopback"
OIDC_DIR="$ROOT/crates/auth/tests/oidc"
if [ ! -d "$OIDC_DIR/node_modules/oidc-provider" ] || [ "$OIDC_DIR/package-lock.json" -nt "$OIDC_DIR/node_modules/.package-lock.json" ]; then
  (cd "$OIDC_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "-- social sign-in on sqlite"
(cd "$OIDC_DIR" && BIN="$BIN" DATABASE_URL="sqlite://$WORK/oidc.db?mode=rwc" node --test)
if [ -n "${TEST_DATABASE_URL:-}" ]; then
  OIDC_SCHEMA="oidc_$(date +%s)_$$"
  psql "$TEST_DATABASE_URL" -qc "create schema \"$OIDC_SCHEMA\"" >/dev/null
  sep='?'; case "$TEST_DATABASE_URL" in *\?*) sep='&';; esac
  echo "-- social sign-in on postgres"
  (cd "$OIDC_DIR" && BIN="$BIN" DATABASE_URL="${TEST_DATABASE_URL}${sep}options=-c%20search_path%3D${OIDC_SCHEMA}" node --test)
fi
echo "== drop-in suite: the real TypeScript Better Auth and ours on the same databases"
"$ROOT/crates/auth/tests/dropin/run.sh" "$BIN"
echo "== web tests: Next.js app + Playwright in headless Chromium (both setups)"
if [ ! -d "$ROOT/web-tests/node_modules/next" ] || [ "$ROOT/web-tests/package-lock.json" -nt "$ROOT/web-tests/node_modules/.package-lock.json" ]; then
  (cd "$ROOT/web-tests" && npm ci --no-audit --no-fund --loglevel=error)
fi
"$ROOT/web-tests/run.sh"
echo "== all tests passed"
