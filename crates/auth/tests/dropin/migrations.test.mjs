// Migrations in both directions, on SQLite and PostgreSQL: ours on a database upstream
// created, upstream's on a database we created, and ours on a database in an older Better
// Auth shape (jwks without `alg`/`crv` as before 1.7, without `expiresAt` and the indexes
// as before 1.4), with the rows kept and both servers working on the result.
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { decodeProtectedHeader } from "jose";

import {
  BACKENDS,
  call,
  freshDatabase,
  runOurCli,
  runUpstreamMigrator,
  schemaSnapshot,
  sessionCookie,
  startOurs,
  startReference,
  uniqueEmail,
  withoutOurTables,
} from "./helpers.mjs";

const PASSWORD = "correct horse battery";
const NOTHING_TO_DO = { toBeCreated: [], toBeAdded: [], toBeAddedIndexes: [], schemaProblems: [], unsafeChanges: [], sql: "" };

function migrateUp(db) {
  const r = runOurCli(db, ["migrate", "up"]);
  assert.equal(r.status, 0, `migrate up: ${r.stdout}${r.stderr}`);
}

/** A user signed up on `server`, its session cookie and the current signing key id. */
async function userAndKey(server) {
  const email = uniqueEmail(server.name);
  const up = await call(server, "POST", "/sign-up/email", { json: { email, password: PASSWORD, name: "Old Timer" } });
  assert.equal(up.status, 200, up.text);
  const token = await call(server, "GET", "/token", { cookie: sessionCookie(up) });
  assert.equal(token.status, 200, token.text);
  return { email, cookie: sessionCookie(up), kid: decodeProtectedHeader(token.body.token).kid };
}

/** `server` signs `email` in and signs its JWT with key `kid`. */
async function worksWith(server, { email, kid }) {
  const res = await call(server, "POST", "/sign-in/email", { json: { email, password: PASSWORD } });
  assert.equal(res.status, 200, `${server.name} sign-in: ${res.text}`);
  const token = await call(server, "GET", "/token", { cookie: sessionCookie(res) });
  assert.equal(token.status, 200, token.text);
  assert.equal(decodeProtectedHeader(token.body.token).kid, kid, `${server.name} signs with the existing key`);
}

for (const kind of BACKENDS) {
  describe(`migrations on ${kind}`, () => {
    test("ours on a database upstream's migration created: records itself, changes nothing", async () => {
      const db = await freshDatabase(kind);
      const created = runUpstreamMigrator(db, { apply: true });
      assert.deepEqual(created.toBeCreated, ["user", "session", "account", "verification", "jwks"]);
      const upstream = await schemaSnapshot(db);
      migrateUp(db);
      migrateUp(db);
      assert.deepEqual(withoutOurTables(await schemaSnapshot(db)), upstream);
      assert.match(runOurCli(db, ["migrate", "status"]).stdout, /m20261126_000001_better_auth_core\s+Applied/);
      assert.deepEqual(runUpstreamMigrator(db), NOTHING_TO_DO);
    });

    test("upstream's on a database we created: nothing to do; the reference works on our rows and key", async () => {
      const db = await freshDatabase(kind);
      migrateUp(db);
      assert.deepEqual(runUpstreamMigrator(db), NOTHING_TO_DO);
      const ours = await startOurs(db);
      const made = await userAndKey(ours);
      await ours.stop();
      const ref = await startReference(db);
      await worksWith(ref, made);
      // The session our server minted is one the reference accepts.
      const session = await call(ref, "GET", "/get-session", { cookie: made.cookie });
      assert.equal(session.body?.user?.email, made.email);
    });

    test("ours on an older Better Auth shape: adds the missing columns and indexes, keeps every row", async () => {
      const db = await freshDatabase(kind);
      runUpstreamMigrator(db, { apply: true });
      const current = await schemaSnapshot(db);
      const ref = await startReference(db);
      const made = await userAndKey(ref);
      await ref.stop();
      // Back to the shape Better Auth <= 1.3 created: jwks without expiresAt/alg/crv (alg
      // and crv came in 1.7, expiresAt in 1.4), no secondary indexes (1.4).
      for (const index of ["session_userId_idx", "account_userId_idx", "verification_identifier_idx"])
        await db.query(`drop index "${index}"`);
      for (const column of ["crv", "alg", "expiresAt"]) await db.query(`alter table "jwks" drop column "${column}"`);
      const counts = async () =>
        Promise.all(["user", "session", "account", "jwks"].map(async (t) => (await db.query(`select count(*) as n from "${t}"`))[0].n));
      const rowsBefore = await counts();
      assert.ok((await db.query(`select * from "jwks"`)).every((k) => !("alg" in k)));

      migrateUp(db);
      assert.deepEqual(withoutOurTables(await schemaSnapshot(db)), current, "back to the current shape, nothing dropped");
      assert.deepEqual(await counts(), rowsBefore);
      const [key] = await db.query(`select "alg", "crv", "expiresAt" from "jwks"`);
      assert.deepEqual({ ...key }, { alg: null, crv: null, expiresAt: null }, "old rows get NULL, as upstream reads them");
      assert.deepEqual(runUpstreamMigrator(db), NOTHING_TO_DO);

      const ours = await startOurs(db);
      await worksWith(ours, made);
      const ref2 = await startReference(db);
      await worksWith(ref2, made);
    });
  });
}
