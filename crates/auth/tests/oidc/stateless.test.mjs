// Stateless mode (DATABASE_URL=none, upstream's Better Auth without a database): a social
// sign-in leaves the session in the `jwe` cookie cache and the provider account in the
// `account_data` cookie; after a restart (memory gone) both still work from the cookies
// alone, and sign-out removes them.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { APP, Browser, listenOp, opAccounts, startOp, startRecordings, startServer, throughProvider } from "./harness.mjs";

let op, opServer, recordings, server;
const secret = `stateless-test-secret-${randomUUID()}`;

before(async () => {
  op = await startOp();
  recordings = await startRecordings();
  server = await startServer({ op, recordings, databaseUrl: "none", secret });
  opServer = await listenOp(op, [`${server.api}/callback/oidc`]);
});

after(() => {
  server?.child.kill();
  opServer?.close();
  recordings?.server.close();
});

async function restart() {
  const port = server.port;
  server.child.kill();
  await new Promise((resolve) => server.child.once("exit", resolve));
  server = await startServer({ op, recordings, databaseUrl: "none", secret, port });
}

test("stateless: social sign-in, then a restart: session and provider account from the cookies", async () => {
  const login = `stateless-${Math.random().toString(36).slice(2, 10)}`;
  opAccounts.set(login, { email: `${login}@example.com`, email_verified: true, name: "No Database" });
  const browser = new Browser();
  const res = await browser.post(`${server.api}/sign-in/social`, { provider: "oidc", callbackURL: `${APP}/dashboard` });
  assert.equal(res.status, 200, await res.clone().text());
  const callback = await throughProvider(browser, (await res.json()).url, { login, providerOrigins: [op.issuer, recordings.base] });
  const landed = await browser.fetch(callback);
  assert.equal(landed.status, 302);

  const jar = browser.jar(new URL(server.base).origin);
  const cache = jar.get("better-auth.session_data");
  assert.ok(cache, `no session cache: ${[...jar.keys()]}`);
  assert.equal(cache.split(".").length, 5, "a JWE (stateless mode's default strategy)");
  assert.ok(jar.get("better-auth.account_data"), `no account cookie: ${[...jar.keys()]}`);

  const tokenBefore = await browser.post(`${server.api}/get-access-token`, { useAccountCookie: true });
  assert.equal(tokenBefore.status, 200, await tokenBefore.clone().text());
  assert.ok((await tokenBefore.json()).accessToken);

  await restart();
  const session = await (await browser.fetch(`${server.api}/get-session`)).json();
  assert.equal(session?.user?.email, `${login}@example.com`);
  const token = await browser.post(`${server.api}/get-access-token`, { useAccountCookie: true });
  assert.equal(token.status, 200, await token.clone().text());
  const { accessToken } = await token.json();
  // The provider still takes it: the cookie carried the real (sealed) token.
  const userinfo = await fetch(`${op.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  assert.equal(userinfo.status, 200);

  // Another browser's cookie jar without the account cookie finds no account.
  const stranger = new Browser();
  for (const [k, v] of jar) if (k !== "better-auth.account_data") stranger.jar(new URL(server.base).origin).set(k, v);
  const none = await stranger.post(`${server.api}/get-access-token`, { useAccountCookie: true });
  assert.equal((await none.json()).code, "ACCOUNT_NOT_FOUND");

  const out = await browser.post(`${server.api}/sign-out`, {});
  assert.equal(out.status, 200, await out.clone().text());
  for (const name of ["better-auth.session_token", "better-auth.session_data", "better-auth.account_data"]) {
    assert.ok(!jar.has(name), `${name} still set after sign-out`);
  }
});

test("stateless: the refreshed cache carries the provider account along, past the first cookie's end", async () => {
  // A 15 s cache: written again when under 3 s are left (refreshCache's fifth).
  // An OP of its own: the first one's port holds the first server's redirect URI.
  const op2 = await startOp();
  const short = await startServer({ op: op2, recordings, databaseUrl: "none", secret, extraToml: "[session.cookie_cache]\nmax_age = 15\n" });
  const shortOp = await listenOp(op2, [`${short.api}/callback/oidc`]);
  try {
    const login = `refresh-${Math.random().toString(36).slice(2, 10)}`;
    opAccounts.set(login, { email: `${login}@example.com`, email_verified: true, name: "Kept Alive" });
    const browser = new Browser();
    const res = await browser.post(`${short.api}/sign-in/social`, { provider: "oidc", callbackURL: `${APP}/dashboard` });
    assert.equal(res.status, 200, await res.clone().text());
    const callback = await throughProvider(browser, (await res.json()).url, { login, providerOrigins: [op2.issuer, recordings.base] });
    assert.equal((await browser.fetch(callback)).status, 302);
    // Both cookies were written by now; deadlines from here, not fixed sleeps.
    const issued = Date.now();
    const until = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, issued + ms - Date.now())));

    await until(12_500);
    const refreshed = await browser.fetch(`${short.api}/get-session`);
    assert.equal((await refreshed.json())?.user?.email, `${login}@example.com`);
    const written = refreshed.headers.getSetCookie().map((line) => line.split("=")[0]);
    for (const name of ["better-auth.session_data", "better-auth.account_data"]) {
      assert.ok(written.includes(name), `${name} not written again: ${written}`);
    }

    await until(15_500);
    const token = await browser.post(`${short.api}/get-access-token`, { useAccountCookie: true });
    assert.equal(token.status, 200, await token.clone().text());
    assert.ok((await token.json()).accessToken);
  } finally {
    short.child.kill();
    shortOp.close();
  }
});
