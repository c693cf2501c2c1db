// Differential test: one sequence of raw HTTP requests against the reference and against
// ours (each on its own fresh database), compared response by response: status, JSON key
// order and value types, error codes and messages, Set-Cookie names and attributes, and the
// headers. Ids, tokens, keys, times and the servers' origins are normalised first. A
// difference fails unless allow-list.json lists it with its reason: `step` ("*" for any),
// `path` (a prefix of the difference's path; "" for the whole response), `withOrigin`
// (only where the request carried an Origin header), `reason`.
import assert from "node:assert/strict";
import fs from "node:fs";
import { describe, test } from "node:test";

import { BACKENDS, call, freshDatabase, startOurs, startReference } from "./helpers.mjs";
import { pluginEnv, PLUGIN_REFERENCE_ENV } from "./plugin-config.mjs";

const ALLOW = JSON.parse(fs.readFileSync(new URL("./allow-list.json", import.meta.url)));
const EMAIL = "diff.user@example.com";
const PASSWORD = "correct horse battery";
const EVIL = "http://evil.example";
// Transport and framing headers, not part of the API.
const IGNORED_HEADERS = new Set(["date", "connection", "keep-alive", "transfer-encoding", "content-length", "set-cookie"]);

// [name, request(server, state)]; `state` carries what earlier steps returned on the same server.
const STEPS = [
  ["ok", (s) => call(s, "GET", "/ok")],
  ["sign-up", (s) => call(s, "POST", "/sign-up/email", { json: { email: EMAIL, password: PASSWORD, name: "Diff User" } })],
  ["sign-up: same email", (s) => call(s, "POST", "/sign-up/email", { json: { email: EMAIL.toUpperCase(), password: PASSWORD, name: "Again" } })],
  ["sign-up: short password", (s) => call(s, "POST", "/sign-up/email", { json: { email: "short@example.com", password: "short", name: "S" } })],
  ["sign-up: long password", (s) => call(s, "POST", "/sign-up/email", { json: { email: "long@example.com", password: "x".repeat(129), name: "L" } })],
  ["sign-up: invalid email", (s) => call(s, "POST", "/sign-up/email", { json: { email: "not-an-email", password: PASSWORD, name: "I" } })],
  ["sign-up: missing name", (s) => call(s, "POST", "/sign-up/email", { json: { email: "noname@example.com", password: PASSWORD } })],
  ["sign-up: wrong types", (s) => call(s, "POST", "/sign-up/email", { json: { email: 5, password: true, name: [] } })],
  ["sign-up: malformed JSON", (s) => call(s, "POST", "/sign-up/email", { json: "{not json" })],
  ["sign-up: untrusted origin", (s) => call(s, "POST", "/sign-up/email", { origin: EVIL, json: { email: "evil@example.com", password: PASSWORD, name: "E" } })],
  ["sign-up: with image", (s) => call(s, "POST", "/sign-up/email", { json: { email: "img@example.com", password: PASSWORD, name: "Img", image: "https://example.com/a.png" } })],
  ["sign-in: wrong password", (s) => call(s, "POST", "/sign-in/email", { json: { email: EMAIL, password: "wrong password!!" } })],
  ["sign-in: unknown email", (s) => call(s, "POST", "/sign-in/email", { json: { email: "nobody@example.com", password: PASSWORD } })],
  ["sign-in: invalid email", (s) => call(s, "POST", "/sign-in/email", { json: { email: "nope", password: PASSWORD } })],
  ["sign-in: missing password", (s) => call(s, "POST", "/sign-in/email", { json: { email: EMAIL } })],
  ["sign-in", (s) => call(s, "POST", "/sign-in/email", { json: { email: EMAIL.toUpperCase(), password: PASSWORD } }), "main"],
  ["sign-in: rememberMe false", (s) => call(s, "POST", "/sign-in/email", { json: { email: EMAIL, password: PASSWORD, rememberMe: false } }), "short"],
  ["get-session: no cookie", (s) => call(s, "GET", "/get-session")],
  ["get-session", (s, st) => call(s, "GET", "/get-session", { cookie: st.main })],
  ["get-session: not remembered", (s, st) => call(s, "GET", "/get-session", { cookie: st.short })],
  ["get-session: tampered cookie", (s, st) => call(s, "GET", "/get-session", { cookie: st.main.replace(/.$/, (c) => (c === "A" ? "B" : "A")) })],
  ["get-session: unsigned token", (s, st) => call(s, "GET", "/get-session", { cookie: st.main.split(".")[0] })],
  ["get-session: bearer", (s, st) => call(s, "GET", "/get-session", { headers: { authorization: `Bearer ${st.mainBearer}` } })],
  ["get-session: bad bearer", (s) => call(s, "GET", "/get-session", { headers: { authorization: "Bearer not-a-token" } })],
  ["token", (s, st) => call(s, "GET", "/token", { cookie: st.main })],
  ["token: no session", (s) => call(s, "GET", "/token")],
  ["jwks", (s) => call(s, "GET", "/jwks")],
  ["sign-out: untrusted origin", (s, st) => call(s, "POST", "/sign-out", { cookie: st.main, origin: EVIL })],
  ["sign-out", (s, st) => call(s, "POST", "/sign-out", { cookie: st.main })],
  ["get-session: after sign-out", (s, st) => call(s, "GET", "/get-session", { cookie: st.main })],
  ["token: after sign-out", (s, st) => call(s, "GET", "/token", { cookie: st.main })],
  ["sign-out: no session", (s) => call(s, "POST", "/sign-out")],
  ["unknown path", (s) => call(s, "GET", "/no-such-endpoint")],
  ["wrong method", (s) => call(s, "GET", "/sign-in/email")],
  ["error page", (s) => call(s, "GET", "/error?error=some_error")],
  // Account lifecycle (the reference runs without mail callbacks, ours without a mail transport).
  ["sign-in: account", (s) => call(s, "POST", "/sign-in/email", { json: { email: EMAIL, password: PASSWORD } }), "acct"],
  ["update-user", (s, st) => call(s, "POST", "/update-user", { cookie: st.acct, json: { name: "Renamed", image: null } })],
  ["update-user: email", (s, st) => call(s, "POST", "/update-user", { cookie: st.acct, json: { email: "other@example.com" } })],
  ["update-user: nothing", (s, st) => call(s, "POST", "/update-user", { cookie: st.acct, json: {} })],
  ["update-user: not an object", (s, st) => call(s, "POST", "/update-user", { cookie: st.acct, json: [1] })],
  ["update-user: no session", (s) => call(s, "POST", "/update-user", { json: { name: "X" } })],
  ["update-session: nothing", (s, st) => call(s, "POST", "/update-session", { cookie: st.acct, json: { foo: 1 } })],
  ["get-session: after update-user", (s, st) => call(s, "GET", "/get-session", { cookie: st.acct })],
  ["list-sessions", (s, st) => call(s, "GET", "/list-sessions", { cookie: st.acct })],
  ["list-sessions: no session", (s) => call(s, "GET", "/list-sessions")],
  ["verify-password: wrong", (s, st) => call(s, "POST", "/verify-password", { cookie: st.acct, json: { password: "wrong password!!" } })],
  ["verify-password", (s, st) => call(s, "POST", "/verify-password", { cookie: st.acct, json: { password: PASSWORD } })],
  ["change-password: wrong current", (s, st) => call(s, "POST", "/change-password", { cookie: st.acct, json: { currentPassword: "wrong password!!", newPassword: "another password" } })],
  ["change-password: too short", (s, st) => call(s, "POST", "/change-password", { cookie: st.acct, json: { currentPassword: PASSWORD, newPassword: "short" } })],
  ["change-password: wrong types", (s, st) => call(s, "POST", "/change-password", { cookie: st.acct, json: { currentPassword: 5 } })],
  ["change-password", (s, st) => call(s, "POST", "/change-password", { cookie: st.acct, json: { currentPassword: PASSWORD, newPassword: "another password" } })],
  ["change-password: revoke others", (s, st) => call(s, "POST", "/change-password", { cookie: st.acct, json: { currentPassword: "another password", newPassword: PASSWORD, revokeOtherSessions: true } }), "acct2"],
  ["get-session: revoked by change-password", (s, st) => call(s, "GET", "/get-session", { cookie: st.acct })],
  ["revoke-session: missing token", (s, st) => call(s, "POST", "/revoke-session", { cookie: st.acct2, json: {} })],
  ["revoke-session: not a session of the user", (s, st) => call(s, "POST", "/revoke-session", { cookie: st.acct2, json: { token: "x".repeat(32) } })],
  ["revoke-other-sessions", (s, st) => call(s, "POST", "/revoke-other-sessions", { cookie: st.acct2 })],
  ["send-verification-email: not enabled", (s) => call(s, "POST", "/send-verification-email", { json: { email: EMAIL } })],
  ["verify-email: no token", (s) => call(s, "GET", "/verify-email")],
  ["verify-email: invalid token", (s) => call(s, "GET", "/verify-email?token=abc")],
  ["verify-email: invalid token, callback", (s) => call(s, "GET", "/verify-email?token=abc&callbackURL=/done?x=1")],
  ["verify-email: untrusted callback", (s) => call(s, "GET", `/verify-email?token=abc&callbackURL=${EVIL}/`)],
  ["verify-email: dot-segment callback", (s) => call(s, "GET", "/verify-email?token=abc&callbackURL=%2F..%2F%2Fevil.example")],
  ["request-password-reset: not enabled", (s) => call(s, "POST", "/request-password-reset", { json: { email: EMAIL } })],
  ["request-password-reset: invalid email", (s) => call(s, "POST", "/request-password-reset", { json: { email: "nope" } })],
  ["reset-password: no token", (s) => call(s, "POST", "/reset-password", { json: { newPassword: "whatever password" } })],
  ["reset-password: unknown token", (s) => call(s, "POST", "/reset-password", { json: { newPassword: "whatever password", token: "nope" } })],
  ["reset-password link: no callbackURL", (s) => call(s, "GET", "/reset-password/abc")],
  ["reset-password link: unknown token", (s) => call(s, "GET", "/reset-password/abc?callbackURL=/reset")],
  ["reset-password link: empty callbackURL", (s) => call(s, "GET", "/reset-password/abc?callbackURL=")],
  ["change-email: disabled", (s, st) => call(s, "POST", "/change-email", { cookie: st.acct2, json: { newEmail: "new@example.com" } })],
  ["delete-user: disabled", (s, st) => call(s, "POST", "/delete-user", { cookie: st.acct2, json: {} })],
  ["delete-user callback: disabled", (s) => call(s, "GET", "/delete-user/callback?token=abc")],
  ["revoke-sessions", (s, st) => call(s, "POST", "/revoke-sessions", { cookie: st.acct2 })],
  ["get-session: after revoke-sessions", (s, st) => call(s, "GET", "/get-session", { cookie: st.acct2 })],
];

// The plugins' endpoints, both servers with the five plugins and additional fields
// (plugins.test.mjs has the same configuration).
const PLUGIN_STEPS = [
  ["p: sign-up with username", (s) => call(s, "POST", "/sign-up/email", { json: { email: "p.user@example.com", password: PASSWORD, name: "P", username: "Pat_1", age: 5 } }), "pu"],
  ["p: sign-up, username taken", (s) => call(s, "POST", "/sign-up/email", { json: { email: "p2@example.com", password: PASSWORD, name: "P", username: "PAT_1" } })],
  ["p: sign-up, username too short", (s) => call(s, "POST", "/sign-up/email", { json: { email: "p3@example.com", password: PASSWORD, name: "P", username: "ab" } })],
  ["p: sign-up, username too long", (s) => call(s, "POST", "/sign-up/email", { json: { email: "p3@example.com", password: PASSWORD, name: "P", username: "x".repeat(31) } })],
  ["p: sign-up, username invalid", (s) => call(s, "POST", "/sign-up/email", { json: { email: "p3@example.com", password: PASSWORD, name: "P", username: "a b c" } })],
  ["p: sign-up, field not allowed", (s) => call(s, "POST", "/sign-up/email", { json: { email: "p4@example.com", password: PASSWORD, name: "P", secretNote: "x" } })],
  ["p: sign-in/username", (s) => call(s, "POST", "/sign-in/username", { json: { username: "pat_1", password: PASSWORD } })],
  ["p: sign-in/username, wrong password", (s) => call(s, "POST", "/sign-in/username", { json: { username: "pat_1", password: "wrong password!!" } })],
  ["p: sign-in/username, unknown", (s) => call(s, "POST", "/sign-in/username", { json: { username: "nobody", password: PASSWORD } })],
  ["p: sign-in/username, invalid", (s) => call(s, "POST", "/sign-in/username", { json: { username: "a!", password: PASSWORD } })],
  ["p: sign-in/username, wrong types", (s) => call(s, "POST", "/sign-in/username", { json: { username: 1 } })],
  ["p: is-username-available, taken", (s) => call(s, "POST", "/is-username-available", { json: { username: "PAT_1" } })],
  ["p: is-username-available, free", (s) => call(s, "POST", "/is-username-available", { json: { username: "someone_else" } })],
  ["p: is-username-available, invalid", (s) => call(s, "POST", "/is-username-available", { json: { username: "!" } })],
  ["p: get-session", (s, st) => call(s, "GET", "/get-session", { cookie: st.pu })],
  ["p: update-user, fields", (s, st) => call(s, "POST", "/update-user", { cookie: st.pu, json: { plan: "pro", username: "pat_2" } })],
  ["p: update-user, username taken, no session", (s) => call(s, "POST", "/update-user", { json: { username: "pat_2" } })],
  ["p: update-session", (s, st) => call(s, "POST", "/update-session", { cookie: st.pu, json: { device: "desk" } })],
  ["p: update-session, nothing", (s, st) => call(s, "POST", "/update-session", { cookie: st.pu, json: { nope: 1 } })],
  ["p: list-sessions", (s, st) => call(s, "GET", "/list-sessions", { cookie: st.pu })],
  ["p: device sessions, none", (s) => call(s, "GET", "/multi-session/list-device-sessions")],
  ["p: set-active, unknown", (s, st) => call(s, "POST", "/multi-session/set-active", { cookie: st.pu, json: { sessionToken: "x".repeat(32) } })],
  ["p: set-active, wrong type", (s, st) => call(s, "POST", "/multi-session/set-active", { cookie: st.pu, json: { sessionToken: 3 } })],
  ["p: revoke device session, no session", (s) => call(s, "POST", "/multi-session/revoke", { json: { sessionToken: "x" } })],
  ["p: one-time-token, no session", (s) => call(s, "GET", "/one-time-token/generate")],
  ["p: one-time-token verify, unknown", (s) => call(s, "POST", "/one-time-token/verify", { json: { token: "nope" } })],
  ["p: one-time-token verify, missing", (s) => call(s, "POST", "/one-time-token/verify", { json: {} })],
  // Successful multi-session, one-time-token and anonymous-linking flows.
  ["p: sign-up, second account", (s) => call(s, "POST", "/sign-up/email", { json: { email: "q.user@example.com", password: PASSWORD, name: "Q" } }), "pq"],
  ["p: device sessions, two", (s, st) => call(s, "GET", "/multi-session/list-device-sessions", { cookie: `${st.puMulti}; ${st.pqMulti}; ${st.pq}` })],
  ["p: set-active", (s, st) => call(s, "POST", "/multi-session/set-active", { cookie: `${st.puMulti}; ${st.pqMulti}; ${st.pq}`, json: { sessionToken: st.puToken } })],
  ["p: revoke device session", (s, st) => call(s, "POST", "/multi-session/revoke", { cookie: `${st.puMulti}; ${st.pqMulti}; ${st.pu}`, json: { sessionToken: st.pqToken } })],
  ["p: get-session, revoked device session", (s, st) => call(s, "GET", "/get-session", { cookie: st.pq })],
  ["p: one-time-token", async (s, st) => {
    const res = await call(s, "GET", "/one-time-token/generate", { cookie: st.pu });
    st.ott = res.body?.token;
    return res;
  }],
  ["p: one-time-token verify", (s, st) => call(s, "POST", "/one-time-token/verify", { json: { token: st.ott } })],
  ["p: one-time-token verify, used", (s, st) => call(s, "POST", "/one-time-token/verify", { json: { token: st.ott } })],
  ["p: anonymous, to link", (s) => call(s, "POST", "/sign-in/anonymous"), "guest"],
  ["p: sign-up from an anonymous session", (s, st) => call(s, "POST", "/sign-up/email", { cookie: st.guest, json: { email: "linked@example.com", password: PASSWORD, name: "Linked" } })],
  ["p: get-session, linked anonymous session", (s, st) => call(s, "GET", "/get-session", { cookie: st.guest })],
  ["p: anonymous sign-in", (s) => call(s, "POST", "/sign-in/anonymous"), "anon"],
  ["p: anonymous again", (s, st) => call(s, "POST", "/sign-in/anonymous", { cookie: st.anon })],
  ["p: anonymous, untrusted origin", (s) => call(s, "POST", "/sign-in/anonymous", { origin: EVIL })],
  ["p: delete-anonymous-user, not anonymous", (s, st) => call(s, "POST", "/delete-anonymous-user", { cookie: st.pu })],
  ["p: delete-anonymous-user", (s, st) => call(s, "POST", "/delete-anonymous-user", { cookie: st.anon })],
  ["p: sign-out", (s, st) => call(s, "POST", "/sign-out", { cookie: st.pu })],
];

/** Replaces what legitimately differs between two runs: ids, tokens, keys, times, origins. */
function normalise(value, origin) {
  if (typeof value === "string") {
    let v = value.split(origin).join("<origin>");
    if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(v)) return "<time>";
    if (/^[\w-]+\.[\w-]+\.[\w-]+$/.test(v) && v.length > 40) return "<jwt>";
    if (/^[A-Za-z0-9_\-+/=.%]{20,}$/.test(v) && !/^[A-Z_]+$/.test(v)) return "<opaque>";
    v = v.replace(/[A-Za-z0-9]{32}(\.[A-Za-z0-9+/=%]+)?/g, "<opaque>");
    return v;
  }
  if (Array.isArray(value)) return value.map((v) => normalise(v, origin));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v, origin)]));
  return value;
}

function view(res, server) {
  const headers = {};
  for (const [name, value] of res.headers) if (!IGNORED_HEADERS.has(name)) headers[name] = normalise(value, server.origin);
  const cookies = res.cookies.map((line) => {
    const [pair, ...attrs] = line.split(";").map((p) => p.trim());
    // A multi-session cookie's name carries its session token.
    const name = pair.slice(0, pair.indexOf("=")).replace(/_multi-[a-z0-9]+$/, "_multi-<token>");
    const value = pair.slice(pair.indexOf("=") + 1);
    const attributes = Object.fromEntries(
      attrs.map((a) => {
        const [k, ...v] = a.split("=");
        const key = k.toLowerCase();
        return [key, key === "expires" ? "<time>" : v.join("=")];
      }),
    );
    return { name, value: value ? "<value>" : "", attributes };
  });
  cookies.sort((a, b) => a.name.localeCompare(b.name));
  const body = typeof res.body === "string" ? { "<text>": res.headers.get("content-type")?.split(";")[0] } : normalise(res.body, server.origin);
  return { status: res.status, headers, cookies, body };
}

/** Every difference between two views, as { path, ours, ref }; key order counts. */
function diff(ours, ref, path = "", out = []) {
  const isObj = (v) => v && typeof v === "object";
  if (isObj(ours) && isObj(ref) && Array.isArray(ours) === Array.isArray(ref)) {
    const ko = Object.keys(ours);
    const kr = Object.keys(ref);
    if (!Array.isArray(ours) && path !== ".headers" && JSON.stringify(ko) !== JSON.stringify(kr) && ko.length === kr.length && ko.every((k) => kr.includes(k)))
      out.push({ path: `${path}#key-order`, ours: ko, ref: kr });
    for (const k of new Set([...kr, ...ko])) diff(ours[k], ref[k], `${path}.${k}`, out);
  } else if (JSON.stringify(ours) !== JSON.stringify(ref)) {
    out.push({ path, ours, ref });
  }
  return out;
}

const allowed = (step, sentOrigin, d) => ALLOW.find((a) => (a.step === step || a.step === "*") && (sentOrigin || !a.withOrigin) && (a.path === "" || d.path === a.path || d.path.startsWith(`${a.path}.`) || d.path.startsWith(`${a.path}#`)));

async function runSequence(server, steps = STEPS) {
  const state = {};
  const views = [];
  for (const [name, request, save] of steps) {
    const res = await request(server, state);
    if (save) {
      state[save] = res.cookies.find((c) => c.startsWith("better-auth.session_token="))?.split(";")[0];
      state[`${save}Bearer`] = res.headers.get("set-auth-token");
      state[`${save}Multi`] = res.cookies.find((c) => c.includes("_multi-"))?.split(";")[0];
      state[`${save}Token`] = res.body?.token;
    }
    views.push([name, view(res, server), res.sentOrigin]);
  }
  return views;
}

test("every allow-list entry names a step of the sequence and gives a reason", () => {
  for (const entry of ALLOW) {
    assert.ok(entry.step === "*" || [...STEPS, ...PLUGIN_STEPS].some(([name]) => name === entry.step), `unknown step ${entry.step}`);
    assert.ok(entry.path === "" || entry.path?.startsWith("."), `path of ${entry.step}: "" (all) or .status/.headers.x/.body...`);
    assert.ok(entry.reason?.length > 20, `reason for ${entry.step} ${entry.path}`);
  }
});

/** Both servers on their own fresh database, the same steps, every difference allow-listed. */
async function compare(kind, steps, { refEnv = {}, ourEnv = () => ({}) } = {}, used) {
  const refDb = await freshDatabase(kind);
  const ourDb = await freshDatabase(kind);
  const ref = await startReference(refDb, refEnv);
  // Our server as deployed by default, memory cache on (no other server on its database).
  const ours = await startOurs(ourDb, { ...ourEnv(ourDb), BETTER_AUTH_SESSION_CACHE: "true" });
  const refViews = await runSequence(ref, steps);
  const ourViews = await runSequence(ours, steps);
  const unexpected = [];
  for (let i = 0; i < steps.length; i++) {
    const [step, o, sentOrigin] = ourViews[i];
    for (const d of diff(o, refViews[i][1])) {
      const entry = allowed(step, sentOrigin, d);
      if (entry) used.add(entry);
      else unexpected.push({ step, ...d });
    }
  }
  assert.deepEqual(unexpected, [], `differences not in allow-list.json:\n${JSON.stringify(unexpected, null, 1)}`);
  return new Map(ourViews.map(([step, view]) => [step, view]));
}

// What the successful plugin flows answer (on both servers, as compared): not two equal failures.
const PLUGIN_FLOW_ANSWERS = [
  ["p: device sessions, two", 200, (b) => b.length === 2],
  ["p: set-active", 200, (b) => b.user?.email === "p.user@example.com"],
  ["p: revoke device session", 200, (b) => b.status === true],
  ["p: get-session, revoked device session", 200, (b) => b === null],
  ["p: one-time-token verify", 200, (b) => b.user?.email === "p.user@example.com"],
  ["p: one-time-token verify, used", 400, () => true],
  ["p: sign-up from an anonymous session", 200, (b) => b.user?.email === "linked@example.com"],
  ["p: get-session, linked anonymous session", 200, (b) => b === null],
];

for (const kind of BACKENDS) {
  describe(`differential on ${kind}`, () => {
    const used = new Set();
    test("the same requests get the same answers", async () => {
      await compare(kind, STEPS, {}, used);
    });
    test("with the five plugins and additional fields, the same answers too", async () => {
      const answers = await compare(kind, PLUGIN_STEPS, { refEnv: PLUGIN_REFERENCE_ENV, ourEnv: pluginEnv }, used);
      for (const [step, status, check] of PLUGIN_FLOW_ANSWERS) {
        const view = answers.get(step);
        assert.equal(view.status, status, `${step}: ${JSON.stringify(view.body)}`);
        assert.ok(check(view.body), `${step}: ${JSON.stringify(view.body)}`);
      }
    });
    test("every allow-list entry still matches a difference", () => {
      // An entry that no longer matches anything is stale: remove it.
      const stale = ALLOW.filter((a) => !used.has(a));
      assert.deepEqual(stale, [], "allow-list entries that matched no difference");
    });
  });
}
