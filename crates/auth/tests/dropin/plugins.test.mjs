// The five plugins and additional fields, both servers on one database with the same
// configuration (upstream's options on the reference, ours from env and TOML): the schema
// either one makes is the other's, and users, usernames, fields, multi-session cookies and
// one-time tokens cross from one server to the other, on SQLite and on PostgreSQL.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";

import {
  BACKENDS,
  call,
  freshDatabase,
  runUpstreamMigrator,
  schemaSnapshot,
  sessionCookie,
  startOurs,
  startReference,
  uniqueEmail,
  withoutOurTables,
} from "./helpers.mjs";
import { PLUGIN_REFERENCE_ENV as REFERENCE_ENV, pluginEnv as ourEnv } from "./plugin-config.mjs";

const PASSWORD = "correct horse battery";
const json = (server, p, body, cookie) => call(server, "POST", p, { json: body, cookie });

for (const kind of BACKENDS) {
  describe(`plugins on one ${kind} database, both servers`, () => {
    let db, ref, ours;
    before(async () => {
      db = await freshDatabase(kind);
      ref = await startReference(db, REFERENCE_ENV);
      const made = await schemaSnapshot(db);
      ours = await startOurs(db, ourEnv(db));
      assert.deepEqual(withoutOurTables(await schemaSnapshot(db)), made, "our migrations add nothing to upstream's schema");
    });

    test("a username user made there signs in here, and the reverse", async () => {
      for (const [maker, other] of [
        [ref, ours],
        [ours, ref],
      ]) {
        const username = `u${Math.random().toString(36).slice(2, 10)}`;
        const up = await json(maker, "/sign-up/email", { email: uniqueEmail("un"), password: PASSWORD, name: "U", username: username.toUpperCase(), age: 33, tags: ["x"] });
        assert.equal(up.status, 200, `${maker.name}: ${up.text}`);
        const signIn = await json(other, "/sign-in/username", { username, password: PASSWORD });
        assert.equal(signIn.status, 200, `${other.name}: ${signIn.text}`);
        const user = signIn.body.user;
        assert.equal(user.id, up.body.user.id);
        assert.equal(user.username, username);
        assert.equal(user.displayUsername, username.toUpperCase());
        assert.equal(user.age, 33);
        assert.deepEqual(user.tags, ["x"]);
        assert.equal(user.plan, "free");
        const taken = await json(other, "/is-username-available", { username });
        assert.deepEqual(taken.body, { available: false });
      }
    });

    test("the same user object on both servers, key for key", async () => {
      const up = await json(ref, "/sign-up/email", { email: uniqueEmail("keys"), password: PASSWORD, name: "K", username: `k${Date.now()}` });
      const cookie = sessionCookie(up);
      const theirs = (await call(ref, "GET", "/get-session", { cookie })).body;
      const mine = (await call(ours, "GET", "/get-session", { cookie })).body;
      assert.deepEqual(Object.keys(mine.user), Object.keys(theirs.user));
      assert.deepEqual(Object.keys(mine.session), Object.keys(theirs.session));
      for (const key of Object.keys(theirs.user)) {
        if (key !== "updatedAt") assert.deepEqual(mine.user[key], theirs.user[key], key);
      }
      assert.equal(mine.user.lastLoginMethod, "email");
    });

    test("multi-session cookies minted there are listed and switched here, and the reverse", async () => {
      for (const [maker, other] of [
        [ref, ours],
        [ours, ref],
      ]) {
        const a = uniqueEmail("ma");
        const b = uniqueEmail("mb");
        const upA = await json(maker, "/sign-up/email", { email: a, password: PASSWORD, name: "A" });
        const upB = await json(maker, "/sign-up/email", { email: b, password: PASSWORD, name: "B" });
        const jar = [...upA.cookies, ...upB.cookies]
          .map((c) => c.split(";")[0])
          .filter((c) => c.includes("_multi-") || c.startsWith("better-auth.session_token="));
        // The browser keeps the latest session cookie (B) and both multi cookies.
        const multi = jar.filter((c) => c.includes("_multi-"));
        assert.equal(multi.length, 2, `${maker.name}: ${JSON.stringify(jar)}`);
        const cookie = [...multi, sessionCookie(upB)].join("; ");
        const list = await call(other, "GET", "/multi-session/list-device-sessions", { cookie });
        assert.equal(list.status, 200, `${other.name}: ${list.text}`);
        assert.deepEqual(list.body.map((s) => s.user.email).sort(), [a, b].sort());
        const switched = await json(other, "/multi-session/set-active", { sessionToken: upA.body.token }, cookie);
        assert.equal(switched.status, 200, `${other.name}: ${switched.text}`);
        assert.equal(switched.body.user.email, a);
        // The session cookie the other server set works on the maker.
        const session = await call(maker, "GET", "/get-session", { cookie: sessionCookie(switched) });
        assert.equal(session.body.user.email, a, maker.name);
      }
    });

    test("one-time tokens made by one server verify on the other, once", async () => {
      for (const [maker, other] of [
        [ref, ours],
        [ours, ref],
      ]) {
        const email = uniqueEmail("ott");
        const up = await json(maker, "/sign-up/email", { email, password: PASSWORD, name: "O" });
        const generated = await call(maker, "GET", "/one-time-token/generate", { cookie: sessionCookie(up) });
        assert.equal(generated.status, 200, generated.text);
        const verified = await json(other, "/one-time-token/verify", { token: generated.body.token });
        assert.equal(verified.status, 200, `${other.name}: ${verified.text}`);
        assert.equal(verified.body.user.email, email);
        const again = await json(maker, "/one-time-token/verify", { token: generated.body.token });
        assert.equal(again.status, 400, "used up on the other server");
      }
    });

    test("an anonymous user made there is linked and removed here, and the reverse", async () => {
      for (const [maker, other] of [
        [ref, ours],
        [ours, ref],
      ]) {
        const anon = await call(maker, "POST", "/sign-in/anonymous", {});
        assert.equal(anon.status, 200, `${maker.name}: ${anon.text}`);
        assert.equal(anon.body.user.isAnonymous, true);
        const up = await json(other, "/sign-up/email", { email: uniqueEmail("linked"), password: PASSWORD, name: "L" }, sessionCookie(anon));
        assert.equal(up.status, 200, `${other.name}: ${up.text}`);
        const left = await db.query(
          kind === "sqlite" ? `select count(*) as n from "user" where "id" = ?` : `select count(*)::int as n from "user" where "id" = $1`,
          [anon.body.user.id],
        );
        assert.equal(Number(left[0].n), 0, `${other.name} left ${maker.name}'s anonymous user`);
      }
    });

    test("declared fields written here are read there", async () => {
      const up = await json(ours, "/sign-up/email", { email: uniqueEmail("f"), password: PASSWORD, name: "F", age: 51, tags: ["p", "q"] });
      const cookie = sessionCookie(up);
      assert.equal((await json(ours, "/update-session", { device: "kiosk" }, cookie)).status, 200);
      assert.equal((await json(ours, "/update-user", { plan: "team" }, cookie)).status, 200);
      const theirs = (await call(ref, "GET", "/get-session", { cookie })).body;
      assert.equal(theirs.user.age, 51);
      assert.deepEqual(theirs.user.tags, ["p", "q"]);
      assert.equal(theirs.user.plan, "team");
      assert.equal(theirs.session.device, "kiosk");
    });
  });

  describe(`plugins on ${kind}: our schema is upstream's`, () => {
    test("upstream's migrator has nothing to add after ours", async () => {
      const db = await freshDatabase(kind);
      const ours = await startOurs(db, ourEnv(db));
      await ours.stop();
      const plan = runUpstreamMigrator(db, { env: REFERENCE_ENV });
      assert.deepEqual(plan.toBeCreated, []);
      assert.deepEqual(plan.toBeAdded, []);
      assert.deepEqual(plan.toBeAddedIndexes, []);
    });
  });
}
