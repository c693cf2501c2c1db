// Social sign-in end to end: better-auth-server against a real OpenID Provider
// (oidc-provider) and recorded GitHub/Google answers, all on loopback.
//
//   BIN=target/debug/better-auth-server DATABASE_URL=sqlite://... node --test
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { APP, Browser, listenOp, opAccounts, startOp, startRecordings, startServer, throughProvider } from "./harness.mjs";

let op, opServer, recordings, server, providerOrigins;
const uid = () => Math.random().toString(36).slice(2, 10);

before(async () => {
  op = await startOp();
  recordings = await startRecordings();
  server = await startServer({ op, recordings });
  opServer = await listenOp(op, [`${server.api}/callback/oidc`]);
  providerOrigins = [op.issuer, recordings.base];
});

after(() => {
  server?.child.kill();
  opServer?.close();
  recordings?.server.close();
});

/** sign-in/social, then the provider; returns the callback URL the provider sent us to. */
async function startSignIn(browser, body, opts = {}) {
  const res = await browser.post(`${server.api}/sign-in/social`, {
    provider: "oidc",
    callbackURL: `${APP}/dashboard`,
    newUserCallbackURL: `${APP}/welcome`,
    errorCallbackURL: `${APP}/oops`,
    ...body,
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { url } = await res.json();
  return throughProvider(browser, url, { providerOrigins, ...opts });
}

/** The whole flow; returns the final redirect Location. */
async function signIn(browser, login, body = {}) {
  const callback = await startSignIn(browser, body, { login });
  assert.ok(callback.startsWith(`${server.api}/callback/`), callback);
  const res = await browser.fetch(callback);
  assert.equal(res.status, 302);
  return res.headers.get("location");
}

async function session(browser) {
  const res = await browser.fetch(`${server.api}/get-session`);
  return res.json();
}

function newLogin(claims = {}) {
  const login = `user-${uid()}`;
  opAccounts.set(login, { email: `${login}@Example.com`, email_verified: true, name: `Name ${login}`, ...claims });
  return login;
}

test("sign-in/social answers {url, redirect} with Location, a signed state cookie, PKCE and a nonce", async () => {
  const browser = new Browser();
  const res = await browser.post(`${server.api}/sign-in/social`, { provider: "oidc", callbackURL: `${APP}/dashboard` });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.deepEqual(Object.keys(body), ["url", "redirect"]);
  assert.equal(body.redirect, true);
  assert.equal(res.headers.get("location"), body.url);
  const url = new URL(body.url);
  assert.equal(url.origin, op.issuer);
  const p = url.searchParams;
  assert.equal(p.get("response_type"), "code");
  assert.equal(p.get("client_id"), "ba-client");
  assert.match(p.get("state"), /^[A-Za-z0-9_-]{32}$/);
  assert.equal(p.get("scope"), "openid email profile");
  assert.equal(p.get("redirect_uri"), `${server.api}/callback/oidc`);
  assert.equal(p.get("code_challenge_method"), "S256");
  assert.match(p.get("code_challenge"), /^[A-Za-z0-9_-]{43}$/);
  assert.match(p.get("nonce"), /^[A-Za-z0-9_-]{32}$/);
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith("better-auth.state="));
  assert.ok(cookie, "state cookie");
  assert.match(cookie, /Max-Age=300; Path=\/; HttpOnly; SameSite=Lax/);
  assert.ok(decodeURIComponent(cookie.split(";")[0].split("=")[1]).startsWith(`${p.get("state")}.`));
});

test("disableRedirect answers redirect:false without Location", async () => {
  const res = await new Browser().post(`${server.api}/sign-in/social`, { provider: "oidc", disableRedirect: true });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.redirect, false);
  assert.equal(res.headers.get("location"), null);
});

test("unknown provider, untrusted callback and bad bodies are refused", async () => {
  const b = new Browser();
  let res = await b.post(`${server.api}/sign-in/social`, { provider: "nope" });
  assert.equal(res.status, 404);
  assert.deepEqual(await res.json(), { message: "Provider not found", code: "PROVIDER_NOT_FOUND" });
  res = await b.post(`${server.api}/sign-in/social`, { provider: "oidc", callbackURL: "https://evil.example/x" });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).code, "INVALID_CALLBACK_URL");
  res = await b.post(`${server.api}/sign-in/social`, { provider: "oidc", errorCallbackURL: "https://evil.example/x" });
  assert.equal((await res.json()).code, "INVALID_ERROR_CALLBACK_URL");
  res = await b.post(`${server.api}/sign-in/social`, { provider: "oidc", scopes: "openid" });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).code, "VALIDATION_ERROR");
  res = await b.post(`${server.api}/sign-in/social`, {});
  assert.equal(res.status, 400);
});

test("a new user signs in, lands on newUserCallbackURL with a session", async () => {
  const login = newLogin({ name: "Ada Lovelace", picture: "https://img.example/ada.png" });
  const browser = new Browser();
  const location = await signIn(browser, login);
  assert.equal(location, `${APP}/welcome`);
  const s = await session(browser);
  assert.equal(s.user.email, `${login}@example.com`);
  assert.equal(s.user.name, "Ada Lovelace");
  assert.equal(s.user.image, "https://img.example/ada.png");
  assert.equal(s.user.emailVerified, true);
  const accounts = await (await browser.fetch(`${server.api}/list-accounts`)).json();
  assert.equal(accounts.length, 1);
  assert.equal(accounts[0].providerId, "oidc");
  assert.equal(accounts[0].accountId, login);
  assert.deepEqual(accounts[0].scopes.sort(), ["email", "openid", "profile"]);
  for (const hidden of ["accessToken", "refreshToken", "idToken", "password", "scope"]) assert.ok(!(hidden in accounts[0]), hidden);
  // The state cookie is used up.
  assert.ok(!browser.jar(new URL(server.base).origin).has("better-auth.state"));
});

test("a returning user signs in to the same user and lands on callbackURL", async () => {
  const login = newLogin();
  const first = new Browser();
  await signIn(first, login);
  const id = (await session(first)).user.id;
  const second = new Browser();
  assert.equal(await signIn(second, login), `${APP}/dashboard`);
  assert.equal((await session(second)).user.id, id);
  const accounts = await (await second.fetch(`${server.api}/list-accounts`)).json();
  assert.equal(accounts.length, 1);
});

test("tampered state is refused with state_mismatch", async () => {
  const browser = new Browser();
  const callback = new URL(await startSignIn(browser, {}, { login: newLogin() }));
  callback.searchParams.set("state", "A".repeat(32));
  const res = await browser.fetch(callback.toString());
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), `${server.api}/error?error=state_mismatch`);
  assert.equal((await session(browser)), null);
});

test("a callback replayed after success is refused", async () => {
  const browser = new Browser();
  const callback = await startSignIn(browser, {}, { login: newLogin() });
  const first = await browser.fetch(callback);
  assert.equal(first.status, 302);
  assert.ok(first.headers.get("location").startsWith(APP));
  const replay = await new Browser().fetch(callback);
  assert.equal(replay.headers.get("location"), `${server.api}/error?error=state_mismatch`);
  const sameBrowser = await browser.fetch(callback);
  assert.equal(sameBrowser.headers.get("location"), `${server.api}/error?error=state_mismatch`);
});

test("a callback in another browser (no state cookie) goes to errorCallbackURL and uses the state up", async () => {
  const browser = new Browser();
  const callback = await startSignIn(browser, {}, { login: newLogin() });
  const res = await new Browser().fetch(callback);
  assert.equal(res.headers.get("location"), `${APP}/oops?error=state_mismatch`);
  // Stricter than upstream (which keeps the state for the browser that started the flow):
  // a state seen with the wrong cookie can't be used again, so a captured one can't be
  // replayed. The user starts the sign-in again.
  const again = await browser.fetch(callback);
  assert.equal(again.headers.get("location"), `${server.api}/error?error=state_mismatch`);
  assert.equal(await session(browser), null);
});

test("missing state and missing code", async () => {
  const browser = new Browser();
  let res = await browser.fetch(`${server.api}/callback/oidc?code=x`);
  assert.equal(res.headers.get("location"), `${server.api}/error?error=state_not_found`);
  const callback = new URL(await startSignIn(browser, {}, { login: newLogin() }));
  callback.searchParams.delete("code");
  res = await browser.fetch(callback.toString());
  assert.equal(res.headers.get("location"), `${APP}/oops?error=no_code`);
});

test("the provider's error is passed to errorCallbackURL", async () => {
  const browser = new Browser();
  const callback = await startSignIn(browser, {}, { login: newLogin(), deny: true });
  const res = await browser.fetch(callback);
  const location = new URL(res.headers.get("location"));
  assert.equal(location.origin + location.pathname, `${APP}/oops`);
  assert.equal(location.searchParams.get("error"), "access_denied");
  assert.ok(location.searchParams.get("error_description"));
});

test("a stolen code cannot be exchanged with another flow's state (PKCE + state bind)", async () => {
  const victim = new Browser();
  const victimCallback = new URL(await startSignIn(victim, {}, { login: newLogin() }));
  const attacker = new Browser();
  const attackerCallback = new URL(await startSignIn(attacker, {}, { login: newLogin() }));
  attackerCallback.searchParams.set("code", victimCallback.searchParams.get("code"));
  const res = await attacker.fetch(attackerCallback.toString());
  assert.equal(res.headers.get("location"), `${APP}/oops?error=invalid_code`);
});

test("an existing email account is linked when the provider verified the address", async () => {
  const browser = new Browser();
  const email = `linked-${uid()}@example.com`;
  const up = await browser.post(`${server.api}/sign-up/email`, { email, password: "password-123456", name: "Local" });
  assert.equal(up.status, 200);
  const userId = (await up.json()).user.id;
  const login = newLogin({ email, email_verified: true });
  const other = new Browser();
  assert.equal(await signIn(other, login), `${APP}/dashboard`);
  const s = await session(other);
  assert.equal(s.user.id, userId);
  const providers = (await (await other.fetch(`${server.api}/list-accounts`)).json()).map((a) => a.providerId).sort();
  assert.deepEqual(providers, ["credential", "oidc"]);
});

test("an unverified provider address does not take over an existing account", async () => {
  const browser = new Browser();
  const email = `victim-${uid()}@example.com`;
  assert.equal((await browser.post(`${server.api}/sign-up/email`, { email, password: "password-123456", name: "V" })).status, 200);
  const login = newLogin({ email, email_verified: false });
  const attacker = new Browser();
  assert.equal(await signIn(attacker, login), `${APP}/oops?error=account_not_linked`);
  assert.equal(await session(attacker), null);
});

test("POST callback (form_post) redirects to the GET callback with the parameters", async () => {
  const res = await fetch(`${server.api}/callback/oidc`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "code=abc&state=xyz&user=%7B%7D",
    redirect: "manual",
  });
  assert.equal(res.status, 302);
  assert.equal(res.headers.get("location"), `${server.api}/callback/oidc?code=abc&state=xyz&user=%7B%7D`);
});

test("link-social links the provider to the signed-in user; other emails are refused", async () => {
  const browser = new Browser();
  const email = `linker-${uid()}@example.com`;
  await browser.post(`${server.api}/sign-up/email`, { email, password: "password-123456", name: "L" });
  const same = newLogin({ email });
  let res = await browser.post(`${server.api}/link-social`, { provider: "oidc", callbackURL: `${APP}/linked`, errorCallbackURL: `${APP}/oops` });
  assert.equal(res.status, 200);
  let callback = await throughProvider(browser, (await res.json()).url, { login: same, providerOrigins });
  res = await browser.fetch(callback);
  assert.equal(res.headers.get("location"), `${APP}/linked`);
  let accounts = await (await browser.fetch(`${server.api}/list-accounts`)).json();
  assert.deepEqual(accounts.map((a) => a.providerId).sort(), ["credential", "oidc"]);

  const different = newLogin();
  browser.jars.delete(op.issuer); // sign out at the provider: another identity this time
  res = await browser.post(`${server.api}/link-social`, { provider: "oidc", callbackURL: `${APP}/linked`, errorCallbackURL: `${APP}/oops` });
  callback = await throughProvider(browser, (await res.json()).url, { login: different, providerOrigins });
  res = await browser.fetch(callback);
  assert.equal(res.headers.get("location"), `${APP}/oops?error=email_does_not_match`);

  // Without a session there is nothing to link to.
  res = await new Browser().post(`${server.api}/link-social`, { provider: "oidc" });
  assert.equal(res.status, 401);
});

test("unlink-account removes a provider account but never the last one", async () => {
  const browser = new Browser();
  await signIn(browser, newLogin());
  let accounts = await (await browser.fetch(`${server.api}/list-accounts`)).json();
  let res = await browser.post(`${server.api}/unlink-account`, { accountId: accounts[0].id });
  assert.equal(res.status, 400);
  assert.deepEqual(await res.json(), { message: "You can't unlink your last account", code: "FAILED_TO_UNLINK_LAST_ACCOUNT" });

  const linked = new Browser();
  const email = `unlink-${uid()}@example.com`;
  await linked.post(`${server.api}/sign-up/email`, { email, password: "password-123456", name: "U" });
  await signIn(new Browser(), newLogin({ email }));
  // Sign in again by password to get a session in this browser.
  accounts = await (await linked.fetch(`${server.api}/list-accounts`)).json();
  assert.equal(accounts.length, 2);
  const oidcAccount = accounts.find((a) => a.providerId === "oidc");
  res = await linked.post(`${server.api}/unlink-account`, { accountId: "not-mine" });
  assert.deepEqual(await res.json(), { message: "Account not found", code: "ACCOUNT_NOT_FOUND" });
  res = await linked.post(`${server.api}/unlink-account`, { accountId: oidcAccount.id });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: true });
  accounts = await (await linked.fetch(`${server.api}/list-accounts`)).json();
  assert.deepEqual(accounts.map((a) => a.providerId), ["credential"]);
});

test("get-access-token, refresh-token and account-info use the stored (encrypted) provider tokens", async () => {
  const login = newLogin({ name: "Token Tester" });
  const browser = new Browser();
  await signIn(browser, login);
  const [account] = await (await browser.fetch(`${server.api}/list-accounts`)).json();

  let res = await browser.post(`${server.api}/get-access-token`, { accountId: account.id });
  assert.equal(res.status, 200);
  const tokens = await res.json();
  assert.ok(tokens.accessToken);
  assert.ok(tokens.idToken);
  assert.ok(tokens.accessTokenExpiresAt);
  assert.deepEqual(tokens.scopes.sort(), ["email", "openid", "profile"]);
  // The token works at the provider: it is the plaintext one.
  const userinfo = await fetch(`${op.issuer}/me`, { headers: { authorization: `Bearer ${tokens.accessToken}` } });
  assert.equal(userinfo.status, 200);

  res = await browser.fetch(`${server.api}/account-info?accountId=${account.id}`);
  assert.equal(res.status, 200);
  const info = await res.json();
  // The provider's view, as it gives it (not lower-cased).
  assert.equal(info.user.email, `${login}@Example.com`);
  assert.equal(info.user.name, "Token Tester");
  assert.equal(info.data.sub, login);
  assert.deepEqual(info.account, { id: account.id, providerId: "oidc", accountId: login });

  res = await browser.post(`${server.api}/refresh-token`, { accountId: account.id });
  assert.equal(res.status, 200, await res.clone().text());
  const refreshed = await res.json();
  assert.ok(refreshed.accessToken);
  assert.notEqual(refreshed.accessToken, tokens.accessToken);
  assert.equal(refreshed.providerId, "oidc");
  assert.equal(refreshed.accountId, account.id);

  res = await new Browser().post(`${server.api}/get-access-token`, { accountId: account.id });
  assert.equal(res.status, 401);
  assert.equal(await res.text(), "");
  res = await browser.post(`${server.api}/get-access-token`, { providerId: "oidc" });
  assert.equal((await res.json()).code, "VALIDATION_ERROR");
  res = await browser.post(`${server.api}/get-access-token`, { accountId: "someone-elses" });
  assert.equal((await res.json()).code, "ACCOUNT_NOT_FOUND");
});

test("sign-in with an ID token from the provider (idToken), and a forged one refused", async () => {
  const login = newLogin();
  const browser = new Browser();
  await signIn(browser, login);
  const [account] = await (await browser.fetch(`${server.api}/list-accounts`)).json();
  const { idToken, accessToken } = await (await browser.post(`${server.api}/get-access-token`, { accountId: account.id })).json();

  // oidc-provider's ID tokens name only the subject: the access token reads the profile.
  const app = new Browser();
  let res = await app.post(`${server.api}/sign-in/social`, { provider: "oidc", idToken: { token: idToken, accessToken } });
  assert.equal(res.status, 200, await res.clone().text());
  const body = await res.json();
  assert.equal(body.redirect, false);
  assert.ok(body.token);
  assert.equal(body.user.email, `${login}@example.com`);
  assert.equal((await session(app)).user.id, body.user.id);

  const [h, p] = idToken.split(".");
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, "base64url")), sub: "admin" })).toString("base64url")}.${idToken.split(".")[2]}`;
  res = await new Browser().post(`${server.api}/sign-in/social`, { provider: "oidc", idToken: { token: forged } });
  assert.equal(res.status, 401);
  assert.deepEqual(await res.json(), { message: "Invalid token", code: "INVALID_TOKEN" });
  res = await new Browser().post(`${server.api}/sign-in/social`, { provider: "github", idToken: { token: idToken } });
  assert.equal(res.status, 404);
  assert.equal((await res.json()).code, "ID_TOKEN_NOT_SUPPORTED");
});

test("GitHub: the primary verified address from /user/emails, login as the name", async () => {
  const browser = new Browser();
  const res = await browser.post(`${server.api}/sign-in/social`, { provider: "github", callbackURL: `${APP}/dashboard` });
  const { url } = await res.json();
  const p = new URL(url).searchParams;
  assert.equal(p.get("scope"), "read:user user:email");
  const callback = await throughProvider(browser, url, { providerOrigins });
  const done = await browser.fetch(callback);
  assert.equal(done.headers.get("location"), `${APP}/dashboard`);
  const s = await session(browser);
  assert.equal(s.user.email, "octocat@example.com");
  assert.equal(s.user.emailVerified, true);
  assert.equal(s.user.name, "octocat");
  assert.equal(s.user.image, "https://avatars.githubusercontent.com/u/583231?v=4");
  const accounts = await (await browser.fetch(`${server.api}/list-accounts`)).json();
  assert.equal(accounts[0].accountId, "583231");
  const userCall = recordings.state.seen.find((r) => r.path === "/github/user");
  assert.equal(userCall.headers["user-agent"], "better-auth");
  const tokenCall = recordings.state.seen.find((r) => r.path === "/github/login/oauth/access_token");
  assert.equal(tokenCall.form.client_id, "gh-client");
  assert.equal(tokenCall.form.redirect_uri, `${server.api}/callback/github`);
});

test("Google: the user from the verified ID token; a token for another audience is refused", async () => {
  const browser = new Browser();
  let res = await browser.post(`${server.api}/sign-in/social`, { provider: "google", callbackURL: `${APP}/dashboard`, errorCallbackURL: `${APP}/oops` });
  let { url } = await res.json();
  assert.equal(new URL(url).searchParams.get("scope"), "email profile openid");
  let done = await browser.fetch(await throughProvider(browser, url, { providerOrigins }));
  assert.equal(done.headers.get("location"), `${APP}/dashboard`);
  const s = await session(browser);
  assert.equal(s.user.email, "grace.hopper@example.com");
  assert.equal(s.user.name, "Grace Hopper");
  assert.equal(s.user.emailVerified, true);

  recordings.state.googleAudience = "someone-else.apps.googleusercontent.com";
  try {
    const other = new Browser();
    res = await other.post(`${server.api}/sign-in/social`, { provider: "google", callbackURL: `${APP}/dashboard`, errorCallbackURL: `${APP}/oops` });
    ({ url } = await res.json());
    done = await other.fetch(await throughProvider(other, url, { providerOrigins }));
    assert.equal(done.headers.get("location"), `${APP}/oops?error=unable_to_get_user_info`);
  } finally {
    recordings.state.googleAudience = null;
  }

  // idToken sign-in, as Google One Tap does.
  res = await new Browser().post(`${server.api}/sign-in/social`, { provider: "google", idToken: { token: recordings.signGoogle() } });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).user.email, "grace.hopper@example.com");
  res = await new Browser().post(`${server.api}/sign-in/social`, { provider: "google", idToken: { token: recordings.signGoogle({ exp: Math.floor(Date.now() / 1000) - 3600 }) } });
  assert.equal(res.status, 401);
});

test("a nonce-bound sign-in whose token answer has no ID token is refused (userinfo proves nothing)", async () => {
  const browser = new Browser();
  const res = await browser.post(`${server.api}/sign-in/social`, { provider: "strict", callbackURL: `${APP}/dashboard`, errorCallbackURL: `${APP}/oops` });
  assert.equal(res.status, 200, await res.clone().text());
  const { url } = await res.json();
  assert.ok(new URL(url).searchParams.get("nonce"), "the flow is nonce-bound");
  const done = await browser.fetch(await throughProvider(browser, url, { providerOrigins }));
  assert.equal(done.headers.get("location"), `${APP}/oops?error=unable_to_get_user_info`);
  assert.equal(await session(browser), null);
});

test("an authorization response with another issuer (RFC 9207 iss) is refused for Google", async () => {
  for (const [iss, expected] of [
    ["https://evil.example", `${APP}/oops?error=issuer_mismatch`],
    ["https://accounts.google.com", `${APP}/dashboard`],
  ]) {
    recordings.state.callbackIss = iss;
    try {
      const browser = new Browser();
      const res = await browser.post(`${server.api}/sign-in/social`, { provider: "google", callbackURL: `${APP}/dashboard`, errorCallbackURL: `${APP}/oops` });
      const { url } = await res.json();
      const done = await browser.fetch(await throughProvider(browser, url, { providerOrigins }));
      assert.equal(done.headers.get("location"), expected, iss);
    } finally {
      recordings.state.callbackIss = null;
    }
  }
});

test("a browser that chose 'don't remember' keeps a browser-session cookie after a social sign-in", async () => {
  const browser = new Browser();
  const res = await browser.post(`${server.api}/sign-up/email`, { email: `dr-${uid()}@example.com`, password: "password123", name: "DR", rememberMe: false });
  assert.equal(res.status, 200, await res.clone().text());
  const callback = await startSignIn(browser, {}, { login: newLogin() });
  const done = await browser.fetch(callback);
  assert.equal(done.status, 302);
  const line = done.headers.getSetCookie().find((c) => c.startsWith("better-auth.session_token="));
  assert.ok(line, "a session cookie");
  assert.doesNotMatch(line, /max-age|expires/i, "a browser-session cookie");
});
