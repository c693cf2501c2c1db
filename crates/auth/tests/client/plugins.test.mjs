// The real client plugins (`better-auth/client/plugins`, version pinned in package.json)
// against a server with the username, anonymous, multi-session, one-time-token and
// last-login-method plugins and declared additional fields. Every assertion here was
// checked against the real Better Auth 1.7.29 on SQLite and on PostgreSQL; where upstream
// surprises, the test asserts what upstream does and says why.
//
// SKIPPED unless AUTH_PLUGINS=1: the other client tests run against a server without
// plugins; whoever starts a server with the configuration below sets AUTH_PLUGINS=1 for
// this file (scripts/test.sh does, for ours).
//
// The server must run with exactly this configuration (AUTH_URL is its origin and base URL,
// base path /api/auth, rate limiting off, email and password sign-up on, no other trusted
// origin needed):
//   plugins: jwt, bearer, username, anonymous, multi-session (maximumSessions: default 5),
//            one-time-token (defaults), last-login-method { storeInDatabase: true }
//   user.additionalFields:
//     plan          { type: "string",  required: false, defaultValue: "free" }
//     age           { type: "number",  required: false }
//     newsletter    { type: "boolean", required: false, defaultValue: false }
//     secretNote    { type: "string",  required: false, input: false }
//     internalScore { type: "number",  required: false, returned: false }
//   session.additionalFields:
//     device        { type: "string",  required: false }
//
// The real TypeScript server with it (crates/auth/tests/dropin/reference-server.mjs):
//   REF_PLUGINS=jwt,bearer,username,anonymous,multi-session,one-time-token,last-login-method
//   REF_OPTIONS='{"lastLoginMethod":{"storeInDatabase":true}}'
//   REF_USER_FIELDS='{"plan":{"type":"string","required":false,"defaultValue":"free"},
//     "age":{"type":"number","required":false},
//     "newsletter":{"type":"boolean","required":false,"defaultValue":false},
//     "secretNote":{"type":"string","required":false,"input":false},
//     "internalScore":{"type":"number","required":false,"returned":false}}'
//   REF_SESSION_FIELDS='{"device":{"type":"string","required":false}}'
//   PORT=4000 BASE_URL=http://127.0.0.1:4000 BETTER_AUTH_SECRET=... DB_PATH=x.db (or DATABASE_URL=postgres://...)
//   node crates/auth/tests/dropin/reference-server.mjs
// Ours: BETTER_AUTH_PLUGINS=username,anonymous,multi-session,one-time-token,last-login-method
// and BETTER_AUTH_CONFIG=plugins.toml (this folder; it sets multi_session.maximum_sessions = 3,
// which no test here depends on: none signs more than three accounts into one browser).
import http from "node:http";
import { isDeepStrictEqual } from "node:util";
import { after, describe, test } from "node:test";
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
import { AUTH_URL, unique } from "./helpers.mjs";

const enabled = process.env.AUTH_PLUGINS === "1";
const API = `${AUTH_URL}/api/auth`;
const PASSWORD = "password123";
const LAST_METHOD = "better-auth.last_used_login_method";
const SESSION = "better-auth.session_token";
const MULTI = `${SESSION}_multi-`;

/**
 * A browser profile: a cookie jar that remembers which cookies are HttpOnly (so that
 * `document.cookie` can be played as a browser would) and the Set-Cookie lines of the
 * last answer; POSTs carry the server's own Origin.
 */
function browser() {
  const jar = new Map(); // name -> { value, httpOnly }
  let lastSetCookie = [];
  const fetchWithJar = async (input, init = {}) => {
    const request = new Request(input, init);
    const headers = new Headers(request.headers);
    if (jar.size) headers.set("cookie", [...jar].map(([k, c]) => `${k}=${c.value}`).join("; "));
    if (request.method !== "GET") headers.set("origin", new URL(AUTH_URL).origin);
    const response = await fetch(new Request(request, { headers }));
    lastSetCookie = response.headers.getSetCookie();
    for (const line of lastSetCookie) {
      const pair = line.split(";")[0];
      const eq = pair.indexOf("=");
      const [name, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
      if (/;\s*max-age=0/i.test(line)) jar.delete(name);
      else jar.set(name, { value, httpOnly: /;\s*httponly/i.test(line) });
    }
    return response;
  };
  return {
    fetchWithJar,
    jar,
    cookie: (name) => jar.get(name)?.value,
    multiCookies: () => [...jar.keys()].filter((k) => k.startsWith(MULTI)),
    setCookieLines: () => lastSetCookie,
    /** What a page's script would see in document.cookie (no HttpOnly cookies). */
    documentCookie: () =>
      [...jar]
        .filter(([, c]) => !c.httpOnly)
        .map(([k, c]) => `${k}=${c.value}`)
        .join("; "),
  };
}

function pluginClient() {
  const profile = browser();
  const client = createAuthClient({
    baseURL: AUTH_URL,
    plugins: [
      usernameClient(),
      anonymousClient(),
      multiSessionClient(),
      oneTimeTokenClient(),
      lastLoginMethodClient(),
      // The client side of the declared fields (types for TypeScript; at run time the
      // fields travel as plain body keys).
      inferAdditionalFields({
        user: {
          plan: { type: "string", required: false },
          age: { type: "number", required: false },
          newsletter: { type: "boolean", required: false },
          secretNote: { type: "string", required: false, input: false },
          internalScore: { type: "number", required: false, returned: false },
        },
        session: { device: { type: "string", required: false } },
      }),
    ],
    fetchOptions: { customFetchImpl: profile.fetchWithJar },
  });
  return { client, ...profile };
}

/** lastLoginMethodClient reads `document.cookie`: give it the page's view of the jar. */
function inPage(profile, fn) {
  globalThis.document = { cookie: profile.documentCookie() };
  try {
    return fn();
  } finally {
    delete globalThis.document;
  }
}

/** The session a bare bearer token opens (no cookies): null once the session is gone. */
async function sessionOf(token) {
  const res = await fetch(`${API}/get-session`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  return res.json();
}

/**
 * A POST without the client, through node:http so that the request carries exactly
 * `headers` (Node's fetch adds `Sec-Fetch-Mode: cors` to every request, which upstream's
 * CSRF check reads). Default headers: the server's own Origin.
 */
function post(path, body, headers = { origin: new URL(AUTH_URL).origin }) {
  const data = body === undefined ? "" : JSON.stringify(body);
  const head = { "content-length": String(Buffer.byteLength(data)), ...headers };
  if (data) head["content-type"] = "application/json";
  return new Promise((resolve, reject) => {
    const req = http.request(`${API}${path}`, { method: "POST", headers: head }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null, setCookie: res.headers["set-cookie"] ?? [] }),
      );
    });
    req.on("error", reject);
    req.end(data);
  });
}

/** The client's error as status + upstream's JSON body ({message, code}). */
const failure = (error) => ({ status: error?.status, message: error?.message, code: error?.code });
const ok = (result) => assert.equal(result.error, null, JSON.stringify(result.error));

// Usernames: lowercase letters, digits, "_" and "." only (after normalisation), 3..30 long.
let counter = 0;
const uniqueName = () => `u${Date.now().toString(36)}${(counter++).toString(36)}${Math.random().toString(36).slice(2, 6)}`;

async function signedUp(extra = {}) {
  const profile = pluginClient();
  const email = unique();
  const up = await profile.client.signUp.email({ name: "Someone", email, password: PASSWORD, ...extra });
  ok(up);
  return { ...profile, email: email.toLowerCase(), user: up.data.user, token: up.data.token };
}

after(() => delete globalThis.document);

describe("username", { skip: !enabled && "AUTH_PLUGINS=1 not set" }, () => {
  test("sign-up stores the lowercase username and the display form; sign-in in any case", async () => {
    const name = `Mixed_Case.${uniqueName()}`.slice(0, 30);
    const { client, user, email } = await signedUp({ username: name });
    assert.equal(user.username, name.toLowerCase(), "normalised to lowercase");
    assert.equal(user.displayUsername, name, "the display form as typed");
    await client.signOut();

    const fresh = pluginClient();
    const signIn = await fresh.client.signIn.username({ username: name.toUpperCase(), password: PASSWORD });
    ok(signIn);
    assert.equal(signIn.data.redirect, false);
    assert.equal(typeof signIn.data.token, "string");
    assert.equal(signIn.data.url, undefined, "no callbackURL, no url key");
    assert.equal(signIn.data.user.email, email);
    assert.equal(signIn.data.user.username, name.toLowerCase());
    const session = await fresh.client.getSession();
    assert.equal(session.data.user.username, name.toLowerCase());
    assert.equal(session.data.user.displayUsername, name);
    assert.equal(session.data.session.token, signIn.data.token);
  });

  test("sign-up refuses short, long, invalid and taken usernames (400, no user made)", async () => {
    const taken = uniqueName();
    await signedUp({ username: taken });
    const cases = [
      ["ab", { code: "USERNAME_TOO_SHORT", message: "Username is too short" }],
      ["a".repeat(31), { code: "USERNAME_TOO_LONG", message: "Username is too long" }],
      ["has space", { code: "INVALID_USERNAME", message: "Username is invalid" }],
      ["dash-name", { code: "INVALID_USERNAME", message: "Username is invalid" }],
      [taken.toUpperCase(), { code: "USERNAME_IS_ALREADY_TAKEN", message: "Username is already taken. Please try another." }],
    ];
    for (const [username, expected] of cases) {
      const { client, jar } = pluginClient();
      const email = unique();
      const up = await client.signUp.email({ name: "X", email, password: PASSWORD, username });
      assert.deepEqual(failure(up.error), { status: 400, ...expected }, username);
      assert.equal(jar.size, 0, "no cookie");
      const signIn = await pluginClient().client.signIn.email({ email, password: PASSWORD });
      assert.equal(signIn.error?.status, 401, `no user was made for ${username}`);
    }
  });

  test("the limits are inclusive: 3 and 30 characters are valid", async () => {
    const { client } = pluginClient();
    const long = `${uniqueName()}${"x".repeat(30)}`.slice(0, 30);
    const longCheck = await client.isUsernameAvailable({ username: long });
    ok(longCheck);
    assert.deepEqual(longCheck.data, { available: true });
    const short = await client.isUsernameAvailable({ username: "a_b" });
    ok(short);
    assert.equal(typeof short.data.available, "boolean");
    const { user } = await signedUp({ username: long });
    assert.equal(user.username, long);
  });

  test("is-username-available: taken in any case, free, and 422 for names that cannot exist", async () => {
    const name = uniqueName();
    await signedUp({ username: name });
    const { client } = pluginClient();
    assert.deepEqual((await client.isUsernameAvailable({ username: name })).data, { available: false });
    assert.deepEqual((await client.isUsernameAvailable({ username: name.toUpperCase() })).data, { available: false });
    assert.deepEqual((await client.isUsernameAvailable({ username: `${name}_free` })).data, { available: true });
    const cases = [
      ["", { code: "INVALID_USERNAME", message: "Username is invalid" }],
      ["ab", { code: "USERNAME_TOO_SHORT", message: "Username is too short" }],
      ["b".repeat(31), { code: "USERNAME_TOO_LONG", message: "Username is too long" }],
      ["no spaces", { code: "INVALID_USERNAME", message: "Username is invalid" }],
    ];
    for (const [username, expected] of cases) {
      const res = await client.isUsernameAvailable({ username });
      assert.deepEqual(failure(res.error), { status: 422, ...expected }, JSON.stringify(username));
    }
  });

  test("sign-in/username: one answer for a wrong password and an unknown name; 422 for invalid names", async () => {
    const name = uniqueName();
    await signedUp({ username: name });
    const { client, jar } = pluginClient();
    const wrong = await client.signIn.username({ username: name, password: "wrong password" });
    assert.deepEqual(failure(wrong.error), {
      status: 401,
      code: "INVALID_USERNAME_OR_PASSWORD",
      message: "Invalid username or password",
    });
    const unknown = await client.signIn.username({ username: `${name}_nobody`, password: PASSWORD });
    assert.deepEqual(failure(unknown.error), failure(wrong.error));
    const empty = await client.signIn.username({ username: "", password: PASSWORD });
    assert.deepEqual(failure(empty.error), failure(wrong.error), "an empty name is a failed sign-in, not a 422");
    const invalid = await client.signIn.username({ username: "not valid", password: PASSWORD });
    assert.deepEqual(failure(invalid.error), { status: 422, code: "INVALID_USERNAME", message: "Username is invalid" });
    const short = await client.signIn.username({ username: "ab", password: PASSWORD });
    assert.deepEqual(failure(short.error), { status: 422, code: "USERNAME_TOO_SHORT", message: "Username is too short" });
    assert.equal(jar.size, 0);
  });

  test("sign-up with displayUsername alone: a valid one becomes the username too, an invalid one does not", async () => {
    const display = `Shown_${uniqueName()}`.slice(0, 30);
    const { user } = await signedUp({ displayUsername: display });
    assert.equal(user.username, display.toLowerCase());
    assert.equal(user.displayUsername, display);
    // Upstream's before hook copies displayUsername into username only when it passes the
    // username rules; otherwise the user has a display name and no username.
    const spaced = `Has Space ${uniqueName()}`;
    const { user: other } = await signedUp({ displayUsername: spaced });
    assert.equal(other.username, null);
    assert.equal(other.displayUsername, spaced);
  });

  test("update-user: rename, keep the display form, refuse taken and invalid names, 401 without a session", async () => {
    const mine = uniqueName();
    const theirs = uniqueName();
    await signedUp({ username: theirs });
    const { client } = await signedUp({ username: mine });

    const renamed = await client.updateUser({ username: `${mine}_2`, displayUsername: "Renamed" });
    ok(renamed);
    assert.deepEqual(renamed.data, { status: true });
    let session = await client.getSession();
    assert.equal(session.data.user.username, `${mine}_2`);
    assert.equal(session.data.user.displayUsername, "Renamed");

    // A username alone leaves displayUsername as it was (upstream's update hook sets it only
    // when given).
    ok(await client.updateUser({ username: `${mine}_3` }));
    session = await client.getSession();
    assert.equal(session.data.user.username, `${mine}_3`);
    assert.equal(session.data.user.displayUsername, "Renamed");
    // Its own name, in another case, is not "taken".
    ok(await client.updateUser({ username: `${mine}_3`.toUpperCase() }));
    assert.equal((await client.getSession()).data.user.username, `${mine}_3`);

    const taken = await client.updateUser({ username: theirs.toUpperCase() });
    assert.deepEqual(failure(taken.error), {
      status: 400,
      code: "USERNAME_IS_ALREADY_TAKEN",
      message: "Username is already taken. Please try another.",
    });
    const invalid = await client.updateUser({ username: "not valid!" });
    assert.deepEqual(failure(invalid.error), { status: 400, code: "INVALID_USERNAME", message: "Username is invalid" });
    const short = await client.updateUser({ username: "ab" });
    assert.deepEqual(failure(short.error), { status: 400, code: "USERNAME_TOO_SHORT", message: "Username is too short" });
    assert.equal((await client.getSession()).data.user.username, `${mine}_3`, "unchanged by the refusals");

    // 1.7.29: no session -> 401 before any username check (1.7.25 answered
    // USERNAME_IS_ALREADY_TAKEN, telling anyone that the name exists).
    const anonymous = await post("/update-user", { username: theirs });
    assert.deepEqual(anonymous.body, { message: "Unauthorized", code: "UNAUTHORIZED" });
    assert.equal(anonymous.status, 401);
  });
});

describe("anonymous", { skip: !enabled && "AUTH_PLUGINS=1 not set" }, () => {
  test("sign-in: a placeholder user flagged isAnonymous; a second anonymous sign-in is refused", async () => {
    const { client, jar } = pluginClient();
    const anon = await client.signIn.anonymous();
    ok(anon);
    assert.deepEqual(Object.keys(anon.data).sort(), ["token", "user"]);
    const { user } = anon.data;
    assert.equal(user.isAnonymous, true);
    assert.equal(user.name, "Anonymous");
    assert.equal(user.emailVerified, false);
    // 1.7.29's default email: `<id>@anonymous.placeholder.invalid` (RFC 6761 .invalid; no
    // "temp-" prefix unless emailDomainName is set).
    assert.match(user.email, /^[A-Za-z0-9]{32}@anonymous\.placeholder\.invalid$/);
    assert.ok(jar.has(SESSION));
    const session = await client.getSession();
    assert.equal(session.data.user.id, user.id);
    assert.equal(session.data.user.isAnonymous, true);

    const again = await client.signIn.anonymous();
    assert.deepEqual(failure(again.error), {
      status: 400,
      code: "ANONYMOUS_USERS_CANNOT_SIGN_IN_AGAIN_ANONYMOUSLY",
      message: "Anonymous users cannot sign in again anonymously",
    });
    assert.equal((await client.getSession()).data.user.id, user.id, "still the same anonymous user");
  });

  test("1.7.29 origin checks on /sign-in/anonymous", async () => {
    const evil = await post("/sign-in/anonymous", undefined, { origin: "https://evil.example" });
    assert.equal(evil.status, 403);
    assert.deepEqual(evil.body, { message: "Invalid origin", code: "INVALID_ORIGIN" });
    assert.deepEqual(evil.setCookie, []);
    const nullOrigin = await post("/sign-in/anonymous", undefined, { origin: "null" });
    assert.equal(nullOrigin.status, 403);
    assert.deepEqual(nullOrigin.body, { message: "Missing or null Origin", code: "MISSING_OR_NULL_ORIGIN" });
    const navigation = await post("/sign-in/anonymous", undefined, {
      "sec-fetch-site": "cross-site",
      "sec-fetch-mode": "navigate",
      "sec-fetch-dest": "document",
    });
    assert.equal(navigation.status, 403);
    assert.equal(navigation.body.code, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED");
    const own = await post("/sign-in/anonymous", undefined, { origin: new URL(AUTH_URL).origin });
    assert.equal(own.status, 200);
    assert.equal(own.body.user.isAnonymous, true);
    const none = await post("/sign-in/anonymous", undefined, {});
    assert.equal(none.status, 200, "no Origin/Referer at all (a server-side caller) is let through");
    assert.equal(none.body.user.isAnonymous, true);
  });

  test("signing up with email from an anonymous session deletes the anonymous user", async () => {
    const { client, jar } = pluginClient();
    const anon = await client.signIn.anonymous();
    ok(anon);
    const anonToken = anon.data.token;
    assert.equal((await sessionOf(anonToken)).user.id, anon.data.user.id, "live before linking");

    const email = unique();
    const up = await client.signUp.email({ name: "Linked", email, password: PASSWORD });
    ok(up);
    assert.equal(up.data.user.isAnonymous, false);
    assert.notEqual(up.data.user.id, anon.data.user.id, "a new user, not the anonymous one upgraded");
    const session = await client.getSession();
    assert.equal(session.data.user.email, email.toLowerCase());
    assert.equal(session.data.user.isAnonymous, false);
    assert.notEqual(session.data.session.token, anonToken);
    // The anonymous user (and with it its session) is gone.
    assert.equal(await sessionOf(anonToken), null);
    assert.ok(jar.has(SESSION));
  });

  test("signing in with email from an anonymous session deletes the anonymous user too", async () => {
    const existing = await signedUp();
    await existing.client.signOut();
    const { client } = pluginClient();
    const anon = await client.signIn.anonymous();
    ok(anon);
    const signIn = await client.signIn.email({ email: existing.email, password: PASSWORD });
    ok(signIn);
    assert.equal((await client.getSession()).data.user.id, existing.user.id);
    assert.equal(await sessionOf(anon.data.token), null);
  });

  test("delete-anonymous-user: an anonymous user goes; a real user is refused; no session is 401", async () => {
    const { client, jar } = pluginClient();
    const anon = await client.signIn.anonymous();
    ok(anon);
    const deleted = await client.deleteAnonymousUser();
    ok(deleted);
    assert.deepEqual(deleted.data, { success: true });
    assert.ok(!jar.has(SESSION), "the session cookie is expired");
    assert.equal((await client.getSession()).data, null);
    assert.equal(await sessionOf(anon.data.token), null);
    // The anonymous session's jar may sign in anonymously again (a new user).
    const again = await client.signIn.anonymous();
    ok(again);
    assert.notEqual(again.data.user.id, anon.data.user.id);

    const real = await signedUp();
    const refused = await real.client.deleteAnonymousUser();
    assert.deepEqual(failure(refused.error), { status: 403, code: "USER_IS_NOT_ANONYMOUS", message: "User is not anonymous" });
    assert.equal((await real.client.getSession()).data.user.id, real.user.id, "still signed in");

    const nobody = await post("/delete-anonymous-user", {});
    assert.equal(nobody.status, 401);
    assert.deepEqual(nobody.body, { message: "Unauthorized", code: "UNAUTHORIZED" });
  });
});

describe("multi-session", { skip: !enabled && "AUTH_PLUGINS=1 not set" }, () => {
  const emailsOf = (list) => list.map((s) => s.user.email).sort();

  test("two accounts in one browser: list, switch, revoke one, revoke the active one, sign out", async () => {
    const a = await signedUp();
    const b = await signedUp();
    const c = await signedUp();
    const browserProfile = pluginClient();
    const { client } = browserProfile;
    const inA = await client.signIn.email({ email: a.email, password: PASSWORD });
    ok(inA);
    const inB = await client.signIn.email({ email: b.email, password: PASSWORD });
    ok(inB);
    assert.equal(browserProfile.multiCookies().length, 2, "one signed multi cookie per account");
    assert.ok(browserProfile.multiCookies().includes(`${MULTI}${inA.data.token.toLowerCase()}`));
    assert.equal((await client.getSession()).data.user.email, b.email, "the last sign-in is active");

    const list = await client.multiSession.listDeviceSessions();
    ok(list);
    assert.deepEqual(emailsOf(list.data), [a.email, b.email].sort());
    for (const entry of list.data) {
      assert.deepEqual(Object.keys(entry).sort(), ["session", "user"]);
      assert.ok("device" in entry.session, "session fields are in the listed sessions");
    }

    const switched = await client.multiSession.setActive({ sessionToken: inA.data.token });
    ok(switched);
    assert.equal(switched.data.session.token, inA.data.token);
    assert.equal(switched.data.user.email, a.email);
    assert.equal((await client.getSession()).data.user.email, a.email);

    const bad = await client.multiSession.setActive({ sessionToken: "x".repeat(32) });
    assert.deepEqual(failure(bad.error), { status: 401, code: "INVALID_SESSION_TOKEN", message: "Invalid session token" });
    assert.equal((await client.getSession()).data.user.email, a.email, "a refused switch changes nothing");

    // Revoking a session that is not the active one: it ends, the active one stays.
    const revokedB = await client.multiSession.revoke({ sessionToken: inB.data.token });
    ok(revokedB);
    assert.deepEqual(revokedB.data, { status: true });
    assert.equal(await sessionOf(inB.data.token), null);
    assert.equal((await client.getSession()).data.user.email, a.email);
    assert.deepEqual(emailsOf((await client.multiSession.listDeviceSessions()).data), [a.email]);
    assert.equal(browserProfile.multiCookies().length, 1);

    // Revoking the active session: the next remaining one becomes active.
    const inC = await client.signIn.email({ email: c.email, password: PASSWORD });
    ok(inC);
    assert.equal((await client.getSession()).data.user.email, c.email);
    ok(await client.multiSession.revoke({ sessionToken: inC.data.token }));
    assert.equal(await sessionOf(inC.data.token), null);
    assert.equal((await client.getSession()).data.user.email, a.email, "the next one is active");

    const unknown = await client.multiSession.revoke({ sessionToken: inC.data.token });
    assert.deepEqual(failure(unknown.error), { status: 401, code: "INVALID_SESSION_TOKEN", message: "Invalid session token" });

    // Signing out ends every session of the browser and clears every multi cookie.
    const inB2 = await client.signIn.email({ email: b.email, password: PASSWORD });
    ok(inB2);
    assert.equal(browserProfile.multiCookies().length, 2);
    ok(await client.signOut());
    assert.deepEqual(browserProfile.multiCookies(), []);
    assert.ok(!browserProfile.jar.has(SESSION));
    assert.equal((await client.getSession()).data, null);
    assert.equal(await sessionOf(inA.data.token), null);
    assert.equal(await sessionOf(inB2.data.token), null);
    assert.deepEqual((await client.multiSession.listDeviceSessions()).data, []);
    // Sessions of the same users in other browsers are not touched.
    assert.equal((await sessionOf(a.token)).user.email, a.email);
  });

  test("signing the same account in twice keeps one entry; the older session ends", async () => {
    const a = await signedUp();
    const profile = pluginClient();
    const first = await profile.client.signIn.email({ email: a.email, password: PASSWORD });
    ok(first);
    const second = await profile.client.signIn.email({ email: a.email, password: PASSWORD });
    ok(second);
    assert.deepEqual(profile.multiCookies(), [`${MULTI}${second.data.token.toLowerCase()}`]);
    const list = await profile.client.multiSession.listDeviceSessions();
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0].session.token, second.data.token);
    assert.equal(await sessionOf(first.data.token), null, "the replaced session is deleted");
  });

  test("a multi cookie that is not signed by the server is ignored", async () => {
    const victim = await signedUp();
    const profile = pluginClient();
    const mine = await profile.client.signIn.email({ email: (await signedUp()).email, password: PASSWORD });
    ok(mine);
    // Only the token, no signature: a forged cookie naming someone else's session.
    profile.jar.set(`${MULTI}${victim.token.toLowerCase()}`, { value: victim.token, httpOnly: true });
    const list = await profile.client.multiSession.listDeviceSessions();
    ok(list);
    assert.equal(list.data.length, 1);
    assert.equal(list.data[0].session.token, mine.data.token);
    const hijack = await profile.client.multiSession.setActive({ sessionToken: victim.token });
    assert.equal(hijack.error?.status, 401);
    assert.equal(hijack.error?.code, "INVALID_SESSION_TOKEN");
    const revoke = await profile.client.multiSession.revoke({ sessionToken: victim.token });
    assert.equal(revoke.error?.code, "INVALID_SESSION_TOKEN");
    assert.equal((await sessionOf(victim.token)).user.email, victim.email, "the victim's session survives");
  });
});

describe("one-time-token", { skip: !enabled && "AUTH_PLUGINS=1 not set" }, () => {
  test("generate in one browser, verify once in another", async () => {
    const owner = await signedUp();
    const generated = await owner.client.oneTimeToken.generate();
    ok(generated);
    assert.deepEqual(Object.keys(generated.data), ["token"]);
    assert.match(generated.data.token, /^[A-Za-z0-9_-]{32}$/, "32 characters of a-z A-Z 0-9 - _");

    const other = pluginClient();
    const verified = await other.client.oneTimeToken.verify({ token: generated.data.token });
    ok(verified);
    assert.deepEqual(Object.keys(verified.data).sort(), ["session", "user"]);
    assert.equal(verified.data.user.email, owner.email);
    // The session the token was made from, not a new one.
    assert.equal(verified.data.session.token, owner.token);
    assert.ok(other.jar.has(SESSION), "verify sets the session cookie");
    assert.equal((await other.client.getSession()).data.user.email, owner.email);

    const reused = await pluginClient().client.oneTimeToken.verify({ token: generated.data.token });
    // Upstream answers with a message and no code here (c.error("BAD_REQUEST", {message})).
    assert.deepEqual(failure(reused.error), { status: 400, code: undefined, message: "Invalid token" });
    const unknown = await pluginClient().client.oneTimeToken.verify({ token: "y".repeat(32) });
    assert.deepEqual(failure(unknown.error), failure(reused.error));
  });

  test("each generate makes a new token; a token of a signed-out session finds no session", async () => {
    const owner = await signedUp();
    const one = await owner.client.oneTimeToken.generate();
    const two = await owner.client.oneTimeToken.generate();
    assert.notEqual(one.data.token, two.data.token);
    ok(await owner.client.signOut());
    const late = await pluginClient().client.oneTimeToken.verify({ token: one.data.token });
    assert.deepEqual(failure(late.error), { status: 400, code: undefined, message: "Session not found" });
  });

  test("generate needs a session", async () => {
    const res = await fetch(`${API}/one-time-token/generate`);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), { message: "Unauthorized", code: "UNAUTHORIZED" });
  });
});

describe("last-login-method", { skip: !enabled && "AUTH_PLUGINS=1 not set" }, () => {
  test("an email sign-up and sign-in set the readable cookie and the user column", async () => {
    const profile = pluginClient();
    const { client } = profile;
    const email = unique();
    const up = await client.signUp.email({ name: "L", email, password: PASSWORD });
    ok(up);
    assert.equal(up.data.user.lastLoginMethod, "email", "stored when the user is created");
    assert.ok(
      profile.setCookieLines().includes(`${LAST_METHOD}=email; Max-Age=2592000; Path=/; SameSite=Lax`),
      profile.setCookieLines().join("\n"),
    );
    ok(await client.signOut());
    assert.equal(profile.cookie(LAST_METHOD), "email", "sign-out leaves the hint");
    const signIn = await client.signIn.email({ email, password: PASSWORD });
    ok(signIn);
    assert.equal(profile.cookie(LAST_METHOD), "email");
    assert.equal(profile.jar.get(LAST_METHOD).httpOnly, false, "page scripts can read it");
    assert.equal(inPage(profile, () => client.getLastUsedLoginMethod()), "email");
    assert.equal(inPage(profile, () => client.isLastUsedLoginMethod("email")), true);
    assert.equal(inPage(profile, () => client.isLastUsedLoginMethod("username")), false);
    const session = await client.getSession();
    assert.equal(session.data.user.lastLoginMethod, "email");

    // input: false (the plugin's own field).
    const refused = await client.updateUser({ lastLoginMethod: "passkey" });
    assert.deepEqual(failure(refused.error), {
      status: 400,
      code: "FIELD_NOT_ALLOWED",
      message: "lastLoginMethod is not allowed to be set",
    });
  });

  test("username, anonymous and one-time-token sign-ins record no method (upstream's resolver knows none)", async () => {
    // Upstream's default resolver maps /sign-in/email and /sign-up/email to "email", OAuth
    // callbacks, one-tap, siwe, passkey, magic-link and email-otp to theirs, and everything
    // else, /sign-in/username, /sign-in/anonymous and /one-time-token/verify included, to
    // nothing: no cookie and no column update.
    const name = uniqueName();
    const owner = await signedUp({ username: name });
    const profile = pluginClient();
    const signIn = await profile.client.signIn.username({ username: name, password: PASSWORD });
    ok(signIn);
    assert.ok(profile.jar.has(SESSION));
    assert.equal(profile.jar.has(LAST_METHOD), false);
    assert.equal(inPage(profile, () => profile.client.getLastUsedLoginMethod()), null);
    assert.equal(inPage(profile, () => profile.client.isLastUsedLoginMethod("username")), false);
    assert.equal((await profile.client.getSession()).data.user.lastLoginMethod, "email", "still the sign-up's");

    const anon = pluginClient();
    const anonIn = await anon.client.signIn.anonymous();
    ok(anonIn);
    assert.equal(anon.jar.has(LAST_METHOD), false);
    assert.equal(anonIn.data.user.lastLoginMethod, null);

    const token = (await owner.client.oneTimeToken.generate()).data.token;
    const viaToken = pluginClient();
    ok(await viaToken.client.oneTimeToken.verify({ token }));
    assert.ok(viaToken.jar.has(SESSION));
    assert.equal(viaToken.jar.has(LAST_METHOD), false);
  });
});

describe("additional fields", { skip: !enabled && "AUTH_PLUGINS=1 not set" }, () => {
  test("sign-up takes the fields as plain body keys; defaults, input: false and returned: false", async () => {
    const { client, user } = await signedUp({ age: 30, internalScore: 7, device: "ignored on sign-up" });
    assert.equal(user.plan, "free", "defaultValue");
    assert.equal(user.age, 30);
    assert.equal(user.newsletter, false, "defaultValue");
    assert.equal(user.secretNote, null, "input: false, declared and returned as null");
    assert.equal("internalScore" in user, false, "returned: false, even when just set");
    const session = await client.getSession();
    assert.equal(session.data.user.plan, "free");
    assert.equal(session.data.user.age, 30);
    assert.equal(session.data.user.newsletter, false);
    assert.equal(session.data.user.secretNote, null);
    assert.equal("internalScore" in session.data.user, false, "returned: false in get-session");
    assert.equal(session.data.session.device, null, "a session field is not taken from the sign-up body");

    const chosen = await signedUp({ plan: "pro", newsletter: true });
    assert.equal(chosen.user.plan, "pro");
    assert.equal(chosen.user.newsletter, true);
    assert.equal(chosen.user.age, null);
  });

  test("an input: false field with a value is refused with upstream's 400; an empty one is ignored", async () => {
    const { client, jar } = pluginClient();
    const email = unique();
    const refused = await client.signUp.email({ name: "G", email, password: PASSWORD, secretNote: "x" });
    assert.deepEqual(failure(refused.error), {
      status: 400,
      code: "FIELD_NOT_ALLOWED",
      message: "secretNote is not allowed to be set",
    });
    assert.equal(jar.size, 0);
    assert.equal((await pluginClient().client.signIn.email({ email, password: PASSWORD })).error?.status, 401, "no user made");
    // Upstream's check is `if (data[key])`: a falsy value is dropped, not refused.
    const empty = await signedUp({ secretNote: "" });
    assert.equal(empty.user.secretNote, null);

    const onUpdate = await empty.client.updateUser({ secretNote: "x" });
    assert.deepEqual(failure(onUpdate.error), {
      status: 400,
      code: "FIELD_NOT_ALLOWED",
      message: "secretNote is not allowed to be set",
    });
    const isAnonymous = await empty.client.updateUser({ isAnonymous: true });
    assert.deepEqual(failure(isAnonymous.error), {
      status: 400,
      code: "FIELD_NOT_ALLOWED",
      message: "isAnonymous is not allowed to be set",
    });
  });

  test("a value of the wrong type is refused and no user is made", async () => {
    // Upstream 1.7.29 does not type-check declared fields: it hands the value to the
    // database. A value no column can hold (an object for a number) fails the insert on
    // both SQLite and PostgreSQL, answered 422 FAILED_TO_CREATE_USER. Smaller mistakes
    // depend on the backend there (SQLite keeps "thirty" in an integer column and answers
    // 200; PostgreSQL casts "31" and "yes"; update-user answers 500 on PostgreSQL), so no
    // test pins them. Our server checks types before the database and answers 400
    // VALIDATION_ERROR naming the field (crates/auth/src/schema/values.rs, a deliberate
    // difference); either exact answer passes here, anything else fails.
    const { client, jar } = pluginClient();
    const email = unique();
    const res = await client.signUp.email({ name: "T", email, password: PASSWORD, age: { years: 30 } });
    const upstream = { status: 422, code: "FAILED_TO_CREATE_USER", message: "Failed to create user" };
    const strict = {
      status: 400,
      code: "VALIDATION_ERROR",
      message: "[body.age] Invalid input: expected number, received object",
    };
    const got = failure(res.error);
    assert.ok(isDeepStrictEqual(got, upstream) || isDeepStrictEqual(got, strict), `unexpected answer ${JSON.stringify(got)}`);
    assert.equal(jar.size, 0);
    assert.equal((await pluginClient().client.signIn.email({ email, password: PASSWORD })).error?.status, 401, "no user made");
  });

  test("update-user and update-session write the fields; get-session and list-sessions show them", async () => {
    const profile = await signedUp({ age: 40 });
    const { client } = profile;
    const updated = await client.updateUser({ plan: "pro", newsletter: true, internalScore: 99 });
    ok(updated);
    assert.deepEqual(updated.data, { status: true });
    let session = await client.getSession();
    assert.equal(session.data.user.plan, "pro");
    assert.equal(session.data.user.newsletter, true);
    assert.equal(session.data.user.age, 40, "untouched");
    assert.equal("internalScore" in session.data.user, false);
    ok(await client.updateUser({ age: null, plan: null }));
    session = await client.getSession();
    assert.equal(session.data.user.age, null, "optional fields can be cleared");
    assert.equal(session.data.user.plan, null, "a default is only for create");

    // (The client turns a call without arguments into a GET, so this one goes by hand.)
    const nothing = await profile.fetchWithJar(`${API}/update-user`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(nothing.status, 400);
    assert.deepEqual(await nothing.json(), { message: "No fields to update" });

    const device = await client.updateSession({ device: "tablet" });
    ok(device);
    assert.deepEqual(Object.keys(device.data), ["session"]);
    assert.equal(device.data.session.device, "tablet");
    assert.equal(device.data.session.token, session.data.session.token);
    session = await client.getSession();
    assert.equal(session.data.session.device, "tablet");
    const sessions = await client.listSessions();
    ok(sessions);
    assert.equal(sessions.data.length, 1);
    assert.equal(sessions.data[0].device, "tablet");
    // A user field is no session field: nothing to update.
    const wrongTable = await client.updateSession({ plan: "pro" });
    assert.deepEqual(failure(wrongTable.error), { status: 400, code: undefined, message: "No fields to update" });

    // The field is per session: a second session of the same user starts without it.
    const email = session.data.user.email;
    const phone = pluginClient();
    ok(await phone.client.signIn.email({ email, password: PASSWORD }));
    assert.equal((await phone.client.getSession()).data.session.device, null);
    const both = await client.listSessions();
    assert.deepEqual(both.data.map((s) => s.device).sort(), [null, "tablet"].sort());
  });
});
