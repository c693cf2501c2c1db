// Sessions in Redis shared with the real Better Auth: the reference with `secondaryStorage`
// in Redis and ours with REDIS_URL, on one database and one Redis key prefix. Sessions
// minted by either are live on the other, sign-out and "sign out everywhere" on either end
// them on both, list-sessions reads the other's list, and a user update reaches the copies.
// Needs Redis at 127.0.0.1:6379; without it the suite skips, unless BETTER_AUTH_REQUIRE_REDIS=1.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { BACKENDS, call, freshDatabase, sessionCookie, startOurs, startReference, uniqueEmail } from "./helpers.mjs";

const PASSWORD = "correct horse battery";
const REDIS_PORT = 6379;
const HERE = path.dirname(new URL(import.meta.url).pathname);

const redisAnswers = () =>
  new Promise((resolve) => {
    const s = net.connect(REDIS_PORT, "127.0.0.1");
    s.once("connect", () => (s.end(), resolve(true)));
    s.once("error", () => resolve(false));
  });

const haveRedis = await redisAnswers();
if (!haveRedis && process.env.BETTER_AUTH_REQUIRE_REDIS === "1") {
  throw new Error(`BETTER_AUTH_REQUIRE_REDIS=1 but Redis at 127.0.0.1:${REDIS_PORT} does not answer`);
}

function startReferenceWithRedis(db, prefix) {
  return startReference(db, { REDIS_PORT: String(REDIS_PORT), REDIS_PREFIX: prefix, REF_RESET_LOG: "1" });
}

for (const kind of BACKENDS) {
  describe(`one ${kind} database and one Redis, both servers`, { skip: !haveRedis && "no Redis" }, () => {
    let db, ref, ours;
    const prefix = `dropin-${process.pid}-${Math.random().toString(36).slice(2, 8)}:`;
    before(async () => {
      db = await freshDatabase(kind);
      ref = await startReferenceWithRedis(db, prefix);
      ours = await startOurs(db, {
        REDIS_URL: `redis://127.0.0.1:${REDIS_PORT}`,
        BETTER_AUTH_REDIS_PREFIX: prefix,
        // Reset links in the log, where the test reads them.
        BETTER_AUTH_MAIL_TRANSPORT: "log",
        RUST_LOG: "info",
      });
    });
    // This suite's keys only (the Redis is shared).
    after(() => {
      const keys = spawnSync("redis-cli", ["-p", String(REDIS_PORT), "--scan", "--pattern", `${prefix}*`], { encoding: "utf8" });
      const names = (keys.stdout || "").split("\n").filter(Boolean);
      if (names.length) spawnSync("redis-cli", ["-p", String(REDIS_PORT), "del", ...names]);
    });

    const signUp = async (server, email) => {
      const res = await call(server, "POST", "/sign-up/email", { json: { email, password: PASSWORD, name: "Redis" } });
      assert.equal(res.status, 200, `${server.name} sign-up: ${res.text}`);
      return res;
    };
    const signIn = async (server, email) => {
      const res = await call(server, "POST", "/sign-in/email", { json: { email, password: PASSWORD } });
      assert.equal(res.status, 200, `${server.name} sign-in: ${res.text}`);
      return sessionCookie(res);
    };
    const whoAmI = async (server, cookie) => {
      const res = await call(server, "GET", "/get-session", { cookie });
      assert.equal(res.status, 200, `${server.name} get-session: ${res.text}`);
      return res.body;
    };
    const sessionRows = async () => {
      const tables = await db.query(
        kind === "sqlite"
          ? "select name from sqlite_master where type = 'table' and name = 'session'"
          : "select table_name from information_schema.tables where table_schema = current_schema() and table_name = 'session'",
      );
      if (tables.length === 0) return 0;
      const [row] = await db.query(`select count(*) as n from "session"`);
      return Number(row.n);
    };

    for (const [from, to] of [
      ["reference", "ours"],
      ["ours", "reference"],
    ]) {
      test(`a session ${from} keeps in Redis is live on ${to}; sign-out on ${to} ends it on both`, async () => {
        const [a, b] = from === "ours" ? [ours, ref] : [ref, ours];
        const email = uniqueEmail(`redis-${from}`);
        await signUp(a, email);
        const cookie = await signIn(a, email);
        const onA = await whoAmI(a, cookie);
        const onB = await whoAmI(b, cookie);
        assert.equal(onA.user.email, email);
        assert.equal(onB.user.id, onA.user.id);
        assert.equal(onB.session.id, onA.session.id);
        assert.equal(onB.session.token, onA.session.token);
        assert.equal(onB.session.expiresAt, onA.session.expiresAt);
        assert.equal(await sessionRows(), 0, "sessions are in Redis only");

        const out = await call(b, "POST", "/sign-out", { cookie });
        assert.equal(out.status, 200, out.text);
        assert.equal(await whoAmI(b, cookie), null);
        assert.equal(await whoAmI(a, cookie), null);
      });

      test(`list-sessions on ${to} shows the sessions ${from} made; revoke-sessions on ${to} ends them on ${from}`, async () => {
        const [a, b] = from === "ours" ? [ours, ref] : [ref, ours];
        const email = uniqueEmail(`redis-list-${from}`);
        await signUp(a, email);
        const first = await signIn(a, email);
        const second = await signIn(a, email);
        const mine = await signIn(b, email);
        const listed = await call(b, "GET", "/list-sessions", { cookie: mine });
        assert.equal(listed.status, 200, listed.text);
        const tokens = new Set(listed.body.map((s) => s.token));
        for (const cookie of [first, second, mine]) {
          assert.ok(tokens.has((await whoAmI(a, cookie)).session.token), "listed");
        }
        assert.equal(listed.body.length, 4, "sign-up's session, two sign-ins on one, one on the other");

        const revoked = await call(b, "POST", "/revoke-sessions", { cookie: mine, json: {} });
        assert.equal(revoked.status, 200, revoked.text);
        for (const cookie of [first, second, mine]) {
          assert.equal(await whoAmI(a, cookie), null, `revoked on ${from}`);
          assert.equal(await whoAmI(b, cookie), null, `revoked on ${to}`);
        }
        const after = await signIn(a, email);
        assert.equal((await whoAmI(b, after)).user.email, email, "a later sign-in is live on both");
      });

      test(`a reset token ${from} keeps in Redis works once on ${to}`, async () => {
        const [a, b] = from === "ours" ? [ours, ref] : [ref, ours];
        const email = uniqueEmail(`redis-reset-${from}`);
        await signUp(a, email);
        const asked = await call(a, "POST", "/request-password-reset", { json: { email, redirectTo: "/reset" } });
        assert.equal(asked.status, 200, asked.text);
        let token;
        for (let i = 0; i < 50 && !token; i++) {
          const links = [...a.log().matchAll(/\/reset-password\/([A-Za-z0-9_-]+)\?/g)];
          token = links.at(-1)?.[1];
          if (!token) await new Promise((r) => setTimeout(r, 100));
        }
        assert.ok(token, `a reset link in ${from}'s log`);
        const reset = (server) => call(server, "POST", "/reset-password", { json: { token, newPassword: "a brand new password" } });
        const done = await reset(b);
        assert.equal(done.status, 200, done.text);
        const again = await reset(a);
        assert.equal(again.status, 400, `used up on ${from} too: ${again.text}`);
        const signedIn = await call(a, "POST", "/sign-in/email", { json: { email, password: "a brand new password" } });
        assert.equal(signedIn.status, 200, signedIn.text);
      });

      test(`update-user on ${from} reaches the session copies ${to} reads`, async () => {
        const [a, b] = from === "ours" ? [ours, ref] : [ref, ours];
        const email = uniqueEmail(`redis-user-${from}`);
        await signUp(b, email);
        const cookie = await signIn(b, email);
        const updated = await call(a, "POST", "/update-user", { cookie, json: { name: `Renamed on ${from}` } });
        assert.equal(updated.status, 200, updated.text);
        assert.equal((await whoAmI(b, cookie)).user.name, `Renamed on ${from}`);
        assert.equal((await whoAmI(a, cookie)).user.name, `Renamed on ${from}`);
      });
    }
  });
}
