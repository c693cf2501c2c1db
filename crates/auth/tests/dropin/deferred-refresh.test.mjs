// Deferred session refresh (upstream `session.deferSessionRefresh`, ours
// `session.defer_session_refresh`), every read due for a refresh (`updateAge: 0`), both
// servers on one database: GET answers `needsRefresh` and writes nothing, POST refreshes,
// an expired row goes on POST only; each server does this to the other's sessions too.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";

import { BACKENDS, call, freshDatabase, sessionCookie, startOurs, startReference, uniqueEmail } from "./helpers.mjs";

const PASSWORD = "correct horse battery";
const TOKEN = "better-auth.session_token";

const cookieNames = (res) => [...new Set(res.cookies.map((c) => c.slice(0, c.indexOf("="))))].sort();
const expiresAt = (res) => new Date(res.body.session.expiresAt).getTime();

for (const kind of BACKENDS) {
  describe(`deferred session refresh on one ${kind} database, both servers`, () => {
    let db, ref, ours;
    before(async () => {
      db = await freshDatabase(kind);
      ref = await startReference(db, { REF_SESSION: JSON.stringify({ deferSessionRefresh: true, updateAge: 0 }) });
      const toml = path.join(db.dir, "deferred.toml");
      fs.writeFileSync(toml, "[session]\ndefer_session_refresh = true\nupdate_age = 0\n");
      ours = await startOurs(db, { BETTER_AUTH_CONFIG: toml });
    });
    after(async () => {
      await ours?.stop();
      await ref?.stop();
    });

    test("GET reads and flags, POST refreshes: the same answers from both servers", async () => {
      const seen = {};
      for (const [maker, reader] of [
        [ref, ours],
        [ours, ref],
        [ref, ref],
        [ours, ours],
      ]) {
        const email = uniqueEmail(`defer-${maker.name}`);
        const up = await call(maker, "POST", "/sign-up/email", { json: { email, password: PASSWORD, name: "D" } });
        assert.equal(up.status, 200, up.text);
        const cookie = sessionCookie(up);
        // The row's expiry, pulled back so that a refresh shows.
        await db.query(
          db.kind === "sqlite"
            ? `update "session" set "expiresAt" = ? where "token" = ?`
            : `update "session" set "expiresAt" = $1 where "token" = $2`,
          [db.kind === "sqlite" ? new Date(Date.now() + 3600_000).toISOString() : new Date(Date.now() + 3600_000), up.body.token],
        );
        const read = await call(reader, "GET", "/get-session", { cookie });
        assert.equal(read.status, 200, `${reader.name}: ${read.text}`);
        assert.deepEqual(Object.keys(read.body).sort(), ["needsRefresh", "session", "user"], reader.name);
        assert.equal(read.body.needsRefresh, true, reader.name);
        assert.ok(expiresAt(read) < Date.now() + 2 * 3600_000, `${reader.name}: GET refreshed`);
        assert.ok(!read.cookies.some((c) => c.startsWith(`${TOKEN}=`)), `${reader.name}: GET set the token cookie`);

        const refreshed = await call(reader, "POST", "/get-session", { json: {}, cookie });
        assert.equal(refreshed.status, 200, `${reader.name}: ${refreshed.text}`);
        assert.deepEqual(Object.keys(refreshed.body).sort(), ["session", "user"], reader.name);
        assert.ok(expiresAt(refreshed) > Date.now() + 6 * 86400_000, `${reader.name}: POST did not refresh`);
        assert.equal(refreshed.headers.get("cache-control"), "no-store");
        const again = await call(maker, "GET", "/get-session?disableRefresh=true", { cookie });
        assert.ok(expiresAt(again) > Date.now() + 6 * 86400_000, `${maker.name} does not see ${reader.name}'s refresh`);
        seen[reader.name] = { read: cookieNames(read), refreshed: cookieNames(refreshed) };
      }
      assert.deepEqual(seen.ours, seen.reference);
    });

    test("an expired session: GET answers null and keeps the row, POST deletes it", async () => {
      for (const server of [ref, ours]) {
        const up = await call(server, "POST", "/sign-up/email", { json: { email: uniqueEmail("defer-exp"), password: PASSWORD, name: "E" } });
        const cookie = sessionCookie(up);
        await db.query(
          db.kind === "sqlite"
            ? `update "session" set "expiresAt" = ? where "token" = ?`
            : `update "session" set "expiresAt" = $1 where "token" = $2`,
          [db.kind === "sqlite" ? new Date(Date.now() - 10_000).toISOString() : new Date(Date.now() - 10_000), up.body.token],
        );
        const rows = async () =>
          (await db.query(db.kind === "sqlite" ? `select 1 from "session" where "token" = ?` : `select 1 from "session" where "token" = $1`, [up.body.token])).length;
        const read = await call(server, "GET", "/get-session", { cookie });
        assert.equal(read.text, "null", server.name);
        assert.ok(read.cookies.some((c) => c.startsWith(`${TOKEN}=`) && /Max-Age=0/.test(c)), server.name);
        assert.equal(await rows(), 1, `${server.name}: GET deleted the row`);
        const cleaned = await call(server, "POST", "/get-session", { json: {}, cookie });
        assert.equal(cleaned.text, "null", server.name);
        assert.equal(await rows(), 0, `${server.name}: POST kept the row`);
      }
    });
  });
}
