// The session cookie cache across the two servers, one database, the same secret: for each
// strategy (compact, jwt, jwe) a `session_data` cookie one server writes is believed by the
// other without storage, and Next.js's `getCookieCache` (better-auth/cookies) reads ours as
// it reads upstream's.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { getCookieCache, getSessionCookie } from "better-auth/cookies";

import { BACKENDS, SECRET, call, freshDatabase, startOurs, startReference, uniqueEmail } from "./helpers.mjs";

const PASSWORD = "correct horse battery";
const DATA = "better-auth.session_data";

/** The Cookie header a browser sends after these Set-Cookie lines (expiries dropped). */
function jar(setCookies) {
  const pairs = new Map();
  for (const line of setCookies) {
    const [pair] = line.split(";");
    const name = pair.slice(0, pair.indexOf("="));
    if (/Max-Age=0/.test(line)) pairs.delete(name);
    else pairs.set(name, pair);
  }
  return [...pairs.values()].join("; ");
}

for (const kind of BACKENDS) {
  for (const strategy of ["compact", "jwt", "jwe"]) {
    describe(`cookie cache (${strategy}) on one ${kind} database, both servers`, () => {
      let db, ref, ours;
      before(async () => {
        db = await freshDatabase(kind);
        ref = await startReference(db, { REF_COOKIE_CACHE: JSON.stringify({ enabled: true, strategy, maxAge: 300 }) });
        ours = await startOurs(db, { BETTER_AUTH_COOKIE_CACHE: "true", BETTER_AUTH_COOKIE_CACHE_STRATEGY: strategy });
      });
      after(async () => {
        await ours?.stop();
        await ref?.stop();
      });

      test("a cache written by one server answers on the other after the session row is gone", async () => {
        for (const [maker, reader] of [
          [ref, ours],
          [ours, ref],
        ]) {
          const email = uniqueEmail(`cc-${strategy}`);
          const up = await call(maker, "POST", "/sign-up/email", { json: { email, password: PASSWORD, name: "C" } });
          assert.equal(up.status, 200, up.text);
          const cookie = jar(up.cookies);
          assert.match(cookie, new RegExp(`${DATA.replace(".", "\\.")}=`), `${maker.name} wrote no cache`);
          // Signing out on the maker deletes the row; the old cookies stay in this "browser".
          const out = await call(maker, "POST", "/sign-out", { json: {}, cookie });
          assert.equal(out.status, 200, out.text);
          const cached = await call(reader, "GET", "/get-session", { cookie });
          assert.equal(cached.body?.user?.email, email, `${reader.name} did not believe ${maker.name}'s ${strategy} cache: ${cached.text}`);
          const fresh = await call(reader, "GET", "/get-session?disableCookieCache=true", { cookie });
          assert.equal(fresh.body, null, `${reader.name}: ${fresh.text}`);
        }
      });

      test("getCookieCache and getSessionCookie read our cookies as upstream's", async () => {
        const payloads = {};
        for (const server of [ref, ours]) {
          const email = uniqueEmail(`gc-${strategy}`);
          const up = await call(server, "POST", "/sign-up/email", { json: { email, password: PASSWORD, name: "G" } });
          const headers = new Headers({ cookie: jar(up.cookies) });
          const payload = await getCookieCache(headers, { secret: SECRET, strategy, isSecure: false });
          assert.ok(payload, `${server.name}: getCookieCache found nothing`);
          assert.equal(payload.user.email, email);
          assert.equal(payload.user.id, up.body.user.id);
          assert.equal(payload.session.token, up.body.token);
          assert.equal(payload.version, "1");
          assert.ok(getSessionCookie(headers), `${server.name}: getSessionCookie`);
          // The wrong secret reads nothing.
          assert.equal(await getCookieCache(headers, { secret: `${SECRET}-other`, strategy, isSecure: false }), null);
          payloads[server.name] = payload;
        }
        assert.deepEqual(Object.keys(payloads.ours), Object.keys(payloads.reference));
        assert.deepEqual(Object.keys(payloads.ours.user).sort(), Object.keys(payloads.reference.user).sort());
        assert.deepEqual(Object.keys(payloads.ours.session).sort(), Object.keys(payloads.reference.session).sort());
      });
    });
  }
}

describe("stateless mode (no database) on both servers", () => {
  let db, ref, ours;
  before(async () => {
    db = await freshDatabase("sqlite"); // only for the data directories: neither opens it
    ref = await startReference(db, { REF_STATELESS: "1" });
    ours = await startOurs(db, { DATABASE_URL: "none" });
  });
  after(async () => {
    await ours?.stop();
    await ref?.stop();
  });

  test("a session cookie set by one is a session on the other (the jwe cache carries it)", async () => {
    for (const [maker, reader] of [
      [ref, ours],
      [ours, ref],
    ]) {
      const email = uniqueEmail("stateless");
      const up = await call(maker, "POST", "/sign-up/email", { json: { email, password: PASSWORD, name: "S" } });
      assert.equal(up.status, 200, up.text);
      const cookie = jar(up.cookies);
      const data = cookie.split("; ").find((p) => p.startsWith(`${DATA}=`));
      assert.ok(data, `${maker.name} wrote no cache: ${cookie}`);
      assert.equal(data.split("=")[1].split(".").length, 5, `${maker.name}: not a JWE`);
      // The reader never saw this user: only the cookie can answer.
      const found = await call(reader, "GET", "/get-session", { cookie });
      assert.equal(found.body?.user?.email, email, `${reader.name}: ${found.text}`);
      const payload = await getCookieCache(new Headers({ cookie }), { secret: SECRET, strategy: "jwe", isSecure: false });
      assert.equal(payload?.user?.email, email);
    }
  });
});
