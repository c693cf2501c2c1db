// Both servers on ONE database that upstream's migration created (the reference starts
// first), with the same secret: users, passwords, session cookies, sign-out, bearer tokens
// and JWT keys cross from one server to the other, on SQLite and on PostgreSQL.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";

import { BACKENDS, call, freshDatabase, schemaSnapshot, sessionCookie, startOurs, startReference, uniqueEmail, withoutOurTables } from "./helpers.mjs";

const PASSWORD = "correct horse battery";

for (const kind of BACKENDS) {
  describe(`one ${kind} database, both servers`, () => {
    let db, ref, ours;
    before(async () => {
      db = await freshDatabase(kind);
      ref = await startReference(db);
      const before = await schemaSnapshot(db);
      ours = await startOurs(db);
      // Our start-up migration only records itself on upstream's schema.
      const after = withoutOurTables(await schemaSnapshot(db));
      assert.deepEqual(after, before);
    });

    const signUp = async (server, email, name = "Cross Over") => {
      const res = await call(server, "POST", "/sign-up/email", { json: { email, password: PASSWORD, name } });
      assert.equal(res.status, 200, `${server.name} sign-up: ${res.text}`);
      return res;
    };
    const signIn = (server, email, password = PASSWORD) =>
      call(server, "POST", "/sign-in/email", { json: { email, password } });
    const whoAmI = async (server, cookie) => {
      const res = await call(server, "GET", "/get-session", { cookie });
      assert.equal(res.status, 200);
      return res.body;
    };

    test("a user created on the reference signs in on ours (scrypt hash)", async () => {
      const email = uniqueEmail("ref-made");
      const made = await signUp(ref, email);
      const [{ password }] = await db.query(
        kind === "sqlite"
          ? `select "password" from "account" where "userId" = ?`
          : `select "password" from "account" where "userId" = $1`,
        [made.body.user.id],
      );
      assert.match(password, /^[0-9a-f]{32}:[0-9a-f]{128}$/, "upstream's scrypt format");
      const res = await signIn(ours, email);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.user.id, made.body.user.id);
      assert.equal((await signIn(ours, email, "wrong password!!")).status, 401);
    });

    test("a user created on ours (scrypt mode) signs in on the reference", async () => {
      const email = uniqueEmail("ours-made");
      const made = await signUp(ours, email);
      const res = await signIn(ref, email);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.user.id, made.body.user.id);
      assert.equal((await signIn(ref, email, "wrong password!!")).status, 401);
    });

    for (const [from, to] of [
      ["reference", "ours"],
      ["ours", "reference"],
    ]) {
      test(`a session cookie minted by ${from} works on ${to}; sign-out on ${to} ends it on both`, async () => {
        const [a, b] = from === "ours" ? [ours, ref] : [ref, ours];
        const email = uniqueEmail(`cookie-${from}`);
        await signUp(a, email);
        const cookie = sessionCookie(await signIn(a, email));
        const onA = await whoAmI(a, cookie);
        const onB = await whoAmI(b, cookie);
        assert.equal(onA.user.email, email);
        assert.equal(onB.user.id, onA.user.id);
        assert.equal(onB.session.id, onA.session.id);
        assert.equal(onB.session.token, onA.session.token);

        const out = await call(b, "POST", "/sign-out", { cookie });
        assert.equal(out.status, 200, out.text);
        assert.deepEqual(out.body, { success: true });
        assert.equal(await whoAmI(b, cookie), null);
        assert.equal(await whoAmI(a, cookie), null);
      });

      test(`the bearer token from ${from}'s sign-in works on ${to}`, async () => {
        const [a, b] = from === "ours" ? [ours, ref] : [ref, ours];
        const email = uniqueEmail(`bearer-${from}`);
        await signUp(a, email);
        const res = await signIn(a, email);
        const bearer = res.headers.get("set-auth-token");
        assert.ok(bearer, "set-auth-token header");
        const got = await call(b, "GET", "/get-session", { headers: { authorization: `Bearer ${bearer}` } });
        assert.equal(got.status, 200);
        assert.equal(got.body?.user?.email, email);
      });
    }

    test("a key the reference created signs on ours; JWTs verify against either /jwks", async () => {
      const email = uniqueEmail("jwt");
      await signUp(ref, email);
      const cookie = sessionCookie(await signIn(ref, email));
      // The reference creates the first key on its first /token.
      const refToken = await call(ref, "GET", "/token", { cookie });
      assert.equal(refToken.status, 200, refToken.text);
      const ourToken = await call(ours, "GET", "/token", { cookie });
      assert.equal(ourToken.status, 200, ourToken.text);
      const refKid = decodeProtectedHeader(refToken.body.token).kid;
      assert.equal(decodeProtectedHeader(ourToken.body.token).kid, refKid, "ours signs with the reference's key");
      assert.equal((await db.query(`select "id" from "jwks"`)).length, 1, "no second key");

      const refJwks = (await call(ref, "GET", "/jwks")).body;
      const ourJwks = (await call(ours, "GET", "/jwks")).body;
      assert.deepEqual(ourJwks, refJwks, "both publish the same key set");
      for (const [token, issuer, jwks] of [
        [ourToken.body.token, ours.origin, createRemoteJWKSet(new URL(`${ref.url}/api/auth/jwks`))],
        [refToken.body.token, ref.origin, createRemoteJWKSet(new URL(`${ours.url}/api/auth/jwks`))],
        [ourToken.body.token, ours.origin, createLocalJWKSet(refJwks)],
      ]) {
        const { payload } = await jwtVerify(token, jwks, { issuer, audience: issuer });
        assert.equal(payload.email, email);
      }
    });
  });
}
