// Loopback world for the social sign-in tests: a real OpenID Provider (oidc-provider), a
// server replaying recorded GitHub and Google answers, and better-auth-server configured
// for both. Flows are driven like a browser: per-origin cookie jars, redirects followed by
// hand, the OP's login and consent forms filled in.
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { generateKeyPairSync, createSign, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import Provider from "oidc-provider";

export const APP = "http://app.example";
const HERE = new URL(".", import.meta.url).pathname;
const recording = (name) => JSON.parse(readFileSync(join(HERE, "recordings", name), "utf8"));

async function freePort() {
  const s = createServer();
  s.listen(0, "127.0.0.1");
  await once(s, "listening");
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** Accounts the OP knows: login name -> claims. Tests add to it. */
export const opAccounts = new Map();

export async function startOp() {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: "jwk" }), kid: "op-key-1", alg: "RS256", use: "sig" };
  return { port, issuer, jwk };
}

export async function listenOp(op, redirectUris) {
  const provider = new Provider(op.issuer, {
    clients: [
      {
        client_id: "ba-client",
        client_secret: "ba-client-secret-0123456789",
        redirect_uris: redirectUris,
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_post",
      },
    ],
    jwks: { keys: [op.jwk] },
    cookies: { keys: ["op-cookie-key-0123456789"] },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "picture"] },
    features: { devInteractions: { enabled: true } },
    pkce: { required: () => true },
    // Refresh tokens without offline_access, so refresh-token can be tested.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed("refresh_token"),
    async findAccount(ctx, id) {
      const claims = opAccounts.get(id) ?? { email: `${id}@example.com`, email_verified: true, name: id };
      return { accountId: id, async claims() { return { sub: id, ...claims }; } };
    },
  });
  const server = provider.listen(op.port, "127.0.0.1");
  await once(server, "listening");
  return server;
}

function b64url(buf) {
  return Buffer.from(buf).toString("base64url");
}

/** Recorded GitHub and Google answers, served the way those APIs answer. */
export async function startRecordings() {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const googleJwk = { ...publicKey.export({ format: "jwk" }), kid: "google-test-key", alg: "RS256", use: "sig" };
  const state = { googleAudience: null, googleNonce: null, callbackIss: null, seen: [] };
  const signGoogle = (overrides = {}) => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { ...recording("google-id-token-claims.json"), iat: now, exp: now + 3600, ...overrides };
    if (state.googleAudience) claims.aud = state.googleAudience;
    const head = b64url(JSON.stringify({ alg: "RS256", kid: "google-test-key", typ: "JWT" }));
    const body = b64url(JSON.stringify(claims));
    const sig = createSign("RSA-SHA256").update(`${head}.${body}`).sign(privateKey);
    return `${head}.${body}.${b64url(sig)}`;
  };
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, base);
    let body = "";
    for await (const chunk of req) body += chunk;
    const form = new URLSearchParams(body);
    state.seen.push({ method: req.method, path: url.pathname, headers: req.headers, form: Object.fromEntries(form) });
    const json = (status, value) => {
      res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify(value));
    };
    const bearer = req.headers.authorization ?? "";
    switch (url.pathname) {
      case "/github/login/oauth/authorize":
      case "/google/o/oauth2/v2/auth": {
        // The provider's consent screen, approved: back to redirect_uri with a code.
        const back = new URL(url.searchParams.get("redirect_uri"));
        back.searchParams.set("code", url.pathname.startsWith("/github") ? "gh-code" : "google-code");
        back.searchParams.set("state", url.searchParams.get("state"));
        // RFC 9207's `iss` in the authorization response, when a test sets one.
        if (state.callbackIss) back.searchParams.set("iss", state.callbackIss);
        res.writeHead(302, { location: back.toString() });
        return res.end();
      }
      // A discovered OpenID provider whose token endpoint leaves out the ID token the
      // nonce-bound flow asked for, and whose userinfo names someone else.
      case "/strict/.well-known/openid-configuration":
        return json(200, {
          issuer: `${base}/strict`,
          authorization_endpoint: `${base}/strict/authorize`,
          token_endpoint: `${base}/strict/token`,
          userinfo_endpoint: `${base}/strict/userinfo`,
          jwks_uri: `${base}/google/oauth2/v3/certs`,
          id_token_signing_alg_values_supported: ["RS256"],
        });
      case "/strict/authorize": {
        const back = new URL(url.searchParams.get("redirect_uri"));
        back.searchParams.set("code", "strict-code");
        back.searchParams.set("state", url.searchParams.get("state"));
        res.writeHead(302, { location: back.toString() });
        return res.end();
      }
      case "/strict/token":
        return json(200, { access_token: "strict-access", token_type: "Bearer", expires_in: 3600 });
      case "/strict/userinfo":
        return json(200, { sub: "strict-user", email: "victim@example.com", email_verified: true, name: "Not Proven" });
      case "/github/login/oauth/access_token":
        if (form.get("code") !== "gh-code" || form.get("client_secret") !== "gh-secret" || !form.get("code_verifier"))
          return json(200, { error: "bad_verification_code", error_description: "The code passed is incorrect or expired." });
        return json(200, recording("github-token.json"));
      case "/github/user":
        if (bearer !== `Bearer ${recording("github-token.json").access_token}` || !req.headers["user-agent"])
          return json(401, { message: "Requires authentication" });
        return json(200, recording("github-user.json"));
      case "/github/user/emails":
        if (bearer !== `Bearer ${recording("github-token.json").access_token}`) return json(401, { message: "Requires authentication" });
        return json(200, recording("github-emails.json"));
      case "/google/token":
        if (form.get("code") !== "google-code" || form.get("client_secret") !== "google-secret")
          return json(400, { error: "invalid_grant", error_description: "Bad Request" });
        return json(200, { ...recording("google-token.json"), id_token: signGoogle() });
      case "/google/oauth2/v3/certs":
        return json(200, { keys: [googleJwk] });
      default:
        res.writeHead(404);
        return res.end();
    }
  });
  server.listen(port, "127.0.0.1");
  await once(server, "listening");
  return { server, base, state, signGoogle };
}

/** Writes the TOML config and starts better-auth-server; resolves when it answers. */
export async function startServer({ op, recordings, extraToml = "", databaseUrl = process.env.DATABASE_URL, port, secret }) {
  const bin = process.env.BIN;
  if (!bin || !databaseUrl) throw new Error("BIN and DATABASE_URL are required");
  port ??= Number(process.env.AUTH_PORT) || (await freePort());
  const base = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), "oidc-tests-"));
  const toml = `
trusted_origins = ["${APP}"]

[account]
encrypt_oauth_tokens = true

[account.account_linking]
require_local_email_verified = false
${extraToml}

[[social_providers]]
id = "oidc"
kind = "oidc"
client_id = "ba-client"
client_secret_env = "OIDC_TEST_CLIENT_SECRET"
discovery_url = "${op.issuer}/.well-known/openid-configuration"
scopes = ["email", "profile"]

[[social_providers]]
kind = "github"
client_id = "gh-client"
client_secret = "gh-secret"
authorization_url = "${recordings.base}/github/login/oauth/authorize"
token_url = "${recordings.base}/github/login/oauth/access_token"
userinfo_url = "${recordings.base}/github/user"
emails_url = "${recordings.base}/github/user/emails"

[[social_providers]]
id = "strict"
kind = "oidc"
client_id = "strict-client"
client_secret = "strict-secret"
discovery_url = "${recordings.base}/strict/.well-known/openid-configuration"

[[social_providers]]
kind = "google"
client_id = "google-client-id.apps.googleusercontent.com"
client_secret = "google-secret"
authorization_url = "${recordings.base}/google/o/oauth2/v2/auth"
token_url = "${recordings.base}/google/token"
jwks_url = "${recordings.base}/google/oauth2/v3/certs"
`;
  writeFileSync(join(dir, "auth.toml"), toml);
  const child = spawn(bin, ["serve"], {
    env: {
      ...process.env,
      BETTER_AUTH_CONFIG: join(dir, "auth.toml"),
      BETTER_AUTH_DATA_DIR: dir,
      DATABASE_URL: databaseUrl,
      HOST: "127.0.0.1",
      PORT: String(port),
      BETTER_AUTH_URL: base,
      BETTER_AUTH_SECRET: secret ?? `oidc-test-secret-${randomUUID()}`,
      BETTER_AUTH_RATE_LIMIT_ENABLED: "false",
      OIDC_TEST_CLIENT_SECRET: "ba-client-secret-0123456789",
      RUST_LOG: process.env.RUST_LOG ?? "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`${base}/api/auth/ok`)).ok) return { child, base, port, api: `${base}/api/auth` };
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill();
  throw new Error("better-auth-server did not start");
}

/** A browser: one cookie jar per origin, manual redirects. */
export class Browser {
  constructor() {
    this.jars = new Map();
  }
  jar(origin) {
    if (!this.jars.has(origin)) this.jars.set(origin, new Map());
    return this.jars.get(origin);
  }
  cookieHeader(url) {
    const jar = this.jar(new URL(url).origin);
    return [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  }
  async fetch(url, init = {}) {
    const headers = new Headers(init.headers ?? {});
    const cookie = this.cookieHeader(url);
    if (cookie) headers.set("cookie", cookie);
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    const jar = this.jar(new URL(url).origin);
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(";")[0];
      const eq = pair.indexOf("=");
      const [name, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
      if (/;\s*max-age=0/i.test(line) || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    return res;
  }
  /** JSON POST to the auth server, with the Origin a page on the app would send. */
  async post(url, body) {
    return this.fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", origin: APP },
      body: JSON.stringify(body),
    });
  }
}

/**
 * Follows redirects from `url` through the OP (filling its login and consent forms with
 * `login`, or cancelling when `deny`) until a redirect leaves the OP and the fake providers.
 * Returns the first URL outside them (normally the server's callback).
 */
export async function throughProvider(browser, url, { login = "alice", deny = false, providerOrigins }) {
  let next = url;
  for (let hop = 0; hop < 20; hop++) {
    const origin = new URL(next).origin;
    if (!providerOrigins.includes(origin)) return next;
    const res = await browser.fetch(next);
    if (res.status >= 300 && res.status < 400) {
      next = new URL(res.headers.get("location"), next).toString();
      continue;
    }
    const html = await res.text();
    const action = html.match(/<form[^>]*action="([^"]+)"/)?.[1];
    if (!action) throw new Error(`no form at ${next}: ${res.status} ${html.slice(0, 200)}`);
    if (deny) {
      const abort = html.match(/href="([^"]*\/abort)"/)?.[1];
      if (abort) {
        next = new URL(abort, next).toString();
        continue;
      }
    }
    const form = new URLSearchParams();
    for (const m of html.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) form.set(m[1], m[2]);
    if (/name="login"/.test(html)) {
      form.set("login", login);
      form.set("password", "any-password");
    }
    const post = await browser.fetch(new URL(action, next).toString(), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    });
    if (post.status < 300 || post.status >= 400) throw new Error(`form post answered ${post.status}`);
    next = new URL(post.headers.get("location"), next).toString();
  }
  throw new Error("too many redirects at the provider");
}
