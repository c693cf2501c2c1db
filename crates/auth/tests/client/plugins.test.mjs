// The real client plugins (better-auth/client/plugins) against a server with the username,
// anonymous, multi-session, one-time-token and last-login-method plugins and the additional
// fields of plugins.toml. Skipped unless AUTH_PLUGINS=1 (scripts/test.sh starts such a
// server for this file; the other client tests run against a server without plugins).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createAuthClient } from "better-auth/client";
import {
  anonymousClient,
  inferAdditionalFields,
  lastLoginMethodClient,
  multiSessionClient,
  oneTimeTokenClient,
  usernameClient,
} from "better-auth/client/plugins";
import { AUTH_URL, browserLikeFetch, unique } from "./helpers.mjs";

const enabled = process.env.AUTH_PLUGINS === "1";

function pluginClient() {
  const { fetchWithJar, jar } = browserLikeFetch();
  const client = createAuthClient({
    baseURL: AUTH_URL,
    plugins: [
      usernameClient(),
      anonymousClient(),
      multiSessionClient(),
      oneTimeTokenClient(),
      lastLoginMethodClient(),
      inferAdditionalFields({
        user: {
          plan: { type: "string", required: false },
          age: { type: "number", required: false },
          newsletter: { type: "boolean", required: false },
        },
        session: { device: { type: "string", required: false } },
      }),
    ],
    fetchOptions: { customFetchImpl: fetchWithJar },
  });
  return { client, jar };
}

const uniqueName = () => `u${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

describe("client plugins", { skip: !enabled && "AUTH_PLUGINS=1 not set" }, () => {
  test("username: sign up, sign in, availability, update", async () => {
    const { client } = pluginClient();
    const name = uniqueName();
    const email = unique();
    const up = await client.signUp.email({ name: "U", email, password: "password123", username: name.toUpperCase() });
    assert.equal(up.error, null, JSON.stringify(up.error));
    assert.equal(up.data.user.username, name, "normalised");
    assert.equal(up.data.user.displayUsername, name.toUpperCase());

    const taken = await client.isUsernameAvailable({ username: name });
    assert.equal(taken.data.available, false);
    const free = await client.isUsernameAvailable({ username: `${name}x` });
    assert.equal(free.data.available, true);
    const invalid = await client.isUsernameAvailable({ username: "a b" });
    assert.equal(invalid.error.status, 422);
    assert.equal(invalid.error.code, "INVALID_USERNAME");

    const other = pluginClient();
    const dup = await other.client.signUp.email({ name: "V", email: unique(), password: "password123", username: name });
    assert.equal(dup.error.status, 400);
    assert.equal(dup.error.code, "USERNAME_IS_ALREADY_TAKEN");
    const short = await other.client.signUp.email({ name: "V", email: unique(), password: "password123", username: "ab" });
    assert.equal(short.error.code, "USERNAME_TOO_SHORT");

    const fresh = pluginClient();
    const wrong = await fresh.client.signIn.username({ username: name, password: "wrong password" });
    assert.equal(wrong.error.status, 401);
    assert.equal(wrong.error.code, "INVALID_USERNAME_OR_PASSWORD");
    const ok = await fresh.client.signIn.username({ username: name, password: "password123" });
    assert.equal(ok.error, null, JSON.stringify(ok.error));
    assert.equal(ok.data.user.email, email.toLowerCase());
    const session = await fresh.client.getSession();
    assert.equal(session.data.user.username, name);

    const renamed = await fresh.client.updateUser({ username: `${name}2`, displayUsername: "Renamed" });
    assert.equal(renamed.error, null, JSON.stringify(renamed.error));
    const after = await fresh.client.getSession({ query: { disableCookieCache: true } });
    assert.equal(after.data.user.username, `${name}2`);
    assert.equal(after.data.user.displayUsername, "Renamed");
  });

  test("anonymous: sign in, then sign up links and removes the anonymous user", async () => {
    const { client, jar } = pluginClient();
    const anon = await client.signIn.anonymous();
    assert.equal(anon.error, null, JSON.stringify(anon.error));
    assert.equal(anon.data.user.isAnonymous, true);
    assert.match(anon.data.user.email, /@anonymous\.placeholder\.invalid$/);
    const again = await client.signIn.anonymous();
    assert.equal(again.error.code, "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY");
    const anonToken = anon.data.token;

    const email = unique();
    const up = await client.signUp.email({ name: "Linked", email, password: "password123" });
    assert.equal(up.error, null, JSON.stringify(up.error));
    assert.equal(up.data.user.isAnonymous, false);
    const session = await client.getSession();
    assert.equal(session.data.user.email, email.toLowerCase());
    // The anonymous user's session is gone with it.
    const probe = browserLikeFetch();
    const res = await probe.fetchWithJar(`${AUTH_URL}/api/auth/get-session`, {
      headers: { authorization: `Bearer ${anonToken}` },
    });
    assert.equal(await res.text(), "null");
    assert.ok(jar.has("better-auth.session_token"));
  });

  test("anonymous: delete-anonymous-user", async () => {
    const { client } = pluginClient();
    await client.signIn.anonymous();
    const deleted = await client.deleteAnonymousUser();
    assert.equal(deleted.error, null, JSON.stringify(deleted.error));
    assert.equal(deleted.data.success, true);
    assert.equal((await client.getSession()).data, null);
    const real = pluginClient();
    await real.client.signUp.email({ name: "R", email: unique(), password: "password123" });
    const refused = await real.client.deleteAnonymousUser();
    assert.equal(refused.error.status, 403);
    assert.equal(refused.error.code, "USER_IS_NOT_ANONYMOUS");
  });

  test("multi-session: two accounts in one browser, switch, revoke, sign out", async () => {
    const a = { email: unique(), password: "password123" };
    const b = { email: unique(), password: "password123" };
    await pluginClient().client.signUp.email({ name: "A", ...a });
    await pluginClient().client.signUp.email({ name: "B", ...b });
    const { client, jar } = pluginClient();
    await client.signIn.email(a);
    await client.signIn.email(b);
    const list = await client.multiSession.listDeviceSessions();
    assert.equal(list.error, null, JSON.stringify(list.error));
    assert.deepEqual(list.data.map((s) => s.user.email).sort(), [a.email, b.email].map((e) => e.toLowerCase()).sort());
    const aSession = list.data.find((s) => s.user.email === a.email.toLowerCase());
    const switched = await client.multiSession.setActive({ sessionToken: aSession.session.token });
    assert.equal(switched.error, null, JSON.stringify(switched.error));
    assert.equal((await client.getSession()).data.user.email, a.email.toLowerCase());
    const bad = await client.multiSession.setActive({ sessionToken: "x".repeat(32) });
    assert.equal(bad.error.code, "INVALID_SESSION_TOKEN");

    const revoked = await client.multiSession.revoke({ sessionToken: aSession.session.token });
    assert.equal(revoked.error, null, JSON.stringify(revoked.error));
    assert.equal((await client.getSession()).data.user.email, b.email.toLowerCase(), "the next one is active");
    await client.signOut();
    assert.equal([...jar.keys()].filter((k) => k.includes("_multi-")).length, 0);
    assert.equal((await client.getSession()).data, null);
  });

  test("one-time-token: generate, verify once", async () => {
    const { client } = pluginClient();
    const email = unique();
    await client.signUp.email({ name: "O", email, password: "password123" });
    const generated = await client.oneTimeToken.generate();
    assert.equal(generated.error, null, JSON.stringify(generated.error));
    const other = pluginClient();
    const verified = await other.client.oneTimeToken.verify({ token: generated.data.token });
    assert.equal(verified.error, null, JSON.stringify(verified.error));
    assert.equal(verified.data.user.email, email.toLowerCase());
    assert.equal((await other.client.getSession()).data.user.email, email.toLowerCase(), "signed in by the token");
    const reused = await other.client.oneTimeToken.verify({ token: generated.data.token });
    assert.equal(reused.error.status, 400);
  });

  test("last-login-method: cookie and column after an email sign-in", async () => {
    const { client, jar } = pluginClient();
    const email = unique();
    await client.signUp.email({ name: "L", email, password: "password123" });
    await client.signOut();
    const signIn = await client.signIn.email({ email, password: "password123" });
    assert.equal(signIn.error, null);
    assert.equal(jar.get("better-auth.last_used_login_method"), "email");
    assert.equal(signIn.data.user.lastLoginMethod, "email");
    const session = await client.getSession();
    assert.equal(session.data.user.lastLoginMethod, "email");
  });

  test("additional fields: sign-up, update-user, update-session, list-sessions", async () => {
    const { client } = pluginClient();
    const up = await client.signUp.email({ name: "F", email: unique(), password: "password123", age: 30 });
    assert.equal(up.error, null, JSON.stringify(up.error));
    assert.equal(up.data.user.plan, "free");
    assert.equal(up.data.user.age, 30);
    assert.equal(up.data.user.newsletter, false);
    assert.equal("internalScore" in up.data.user, false, "returned: false");

    const refused = await pluginClient().client.signUp.email({ name: "G", email: unique(), password: "password123", secretNote: "x" });
    assert.equal(refused.error.status, 400);
    assert.equal(refused.error.code, "FIELD_NOT_ALLOWED");

    const updated = await client.updateUser({ plan: "pro", newsletter: true });
    assert.equal(updated.error, null, JSON.stringify(updated.error));
    const session = await client.getSession();
    assert.equal(session.data.user.plan, "pro");
    assert.equal(session.data.user.newsletter, true);

    const device = await client.updateSession({ device: "tablet" });
    assert.equal(device.error, null, JSON.stringify(device.error));
    assert.equal(device.data.session.device, "tablet");
    const sessions = await client.listSessions();
    assert.equal(sessions.data[0].device, "tablet");
  });
});
