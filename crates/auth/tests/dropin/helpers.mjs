// Shared by the drop-in suite: databases (a fresh PostgreSQL schema or SQLite file per
// test), the two servers as child processes, and a small HTTP client with a cookie jar.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";

import Database from "better-sqlite3";
import pg from "pg";

export const BIN = process.env.BETTER_AUTH_BIN;
if (!BIN) throw new Error("run through run.sh (BETTER_AUTH_BIN)");
const PG_URL = process.env.TEST_DATABASE_URL || "";
export const SECRET = "drop-in-suite-secret-0123456789abcdef0123456789";
const HERE = path.dirname(new URL(import.meta.url).pathname);
/** The real Better Auth, pinned in this folder's package.json. */
export const REFERENCE_SERVER = path.join(HERE, "reference-server.mjs");

/** The backends every cross-server test runs on. */
export const BACKENDS = PG_URL ? ["sqlite", "postgres"] : ["sqlite"];

// Everything started or created here is undone at the end of the test file, even after a
// failure; child processes are also killed if the test process dies.
const cleanups = [];
const children = new Set();
after(async () => {
  for (const fn of cleanups.reverse()) await fn().catch((e) => console.error("cleanup:", e));
});
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/**
 * A fresh database. `ours` and `ref` are the env for each server, `query(sql)` runs SQL
 * (PostgreSQL `$1` placeholders; `?` on SQLite) and returns rows.
 */
export async function freshDatabase(kind) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dropin-"));
  cleanups.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  if (kind === "sqlite") {
    const file = path.join(dir, "auth.db");
    const query = async (sql, params = []) => {
      const db = new Database(file);
      try {
        const st = db.prepare(sql);
        return st.reader ? st.all(...params) : (st.run(...params), []);
      } finally {
        db.close();
      }
    };
    return { kind, dir, file, ours: { DATABASE_URL: `sqlite://${file}?mode=rwc` }, ref: { DB_PATH: file }, query };
  }
  const schema = `dropin_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`create schema "${schema}"`);
  await admin.end();
  const sep = PG_URL.includes("?") ? "&" : "?";
  const url = `${PG_URL}${sep}options=-c%20search_path%3D${schema}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  cleanups.push(async () => {
    await pool.end();
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`drop schema if exists "${schema}" cascade`);
    await c.end();
  });
  const query = async (sql, params = []) => (await pool.query(sql, params)).rows;
  return { kind, dir, schema, url, ours: { DATABASE_URL: url }, ref: { DATABASE_URL: url }, query };
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function launch(name, cmd, args, env) {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = "";
  const child = spawn(cmd, args, {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env(port, url) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  let exited = false;
  const done = new Promise((resolve) => child.on("exit", () => ((exited = true), children.delete(child), resolve())));
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
    if (!exited) child.kill("SIGKILL");
  };
  cleanups.push(stop);
  for (let i = 0; i < 300; i++) {
    if (exited) break;
    try {
      const res = await fetch(`${url}/api/auth/ok`);
      if (res.ok) return { name, url, origin: url, port, stop, log: () => output };
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`${name} did not start:\n${output}`);
}

/** Our server on `db`, Better Auth's scrypt format for new hashes (as during a move). */
export function startOurs(db, extraEnv = {}) {
  return launch("ours", BIN, ["serve"], (port, url) => ({
    ...db.ours,
    BETTER_AUTH_SECRET: SECRET,
    BETTER_AUTH_URL: url,
    BETTER_AUTH_DATA_DIR: db.dir,
    BETTER_AUTH_PASSWORD_HASHING: "scrypt",
    // The reference runs with rateLimit disabled.
    BETTER_AUTH_RATE_LIMIT_ENABLED: "false",
    // A TypeScript server beside ours sends no session-cache invalidations: these tests
    // check that a sign-out on one server ends the session on the other at once.
    BETTER_AUTH_SESSION_CACHE: "false",
    HOST: "127.0.0.1",
    PORT: String(port),
    RUST_LOG: "warn",
    ...extraEnv,
  }));
}

/**
 * The real Better Auth server (runs upstream's migration at start) on `db`; `extraEnv` sets
 * its plugins and fields (REF_* of reference-options.mjs) or Redis (REDIS_PORT).
 */
export function startReference(db, extraEnv = {}) {
  return launch("reference", process.execPath, [REFERENCE_SERVER], (port, url) => ({
    ...db.ref,
    BETTER_AUTH_SECRET: SECRET,
    BASE_URL: url,
    PORT: String(port),
    HOST: "127.0.0.1",
    NODE_ENV: "production",
    ...extraEnv,
  }));
}

/** `better-auth-server <args>` on `db`; returns { status, stdout, stderr }. */
export function runOurCli(db, args) {
  const r = spawnSync(BIN, args, {
    env: { PATH: process.env.PATH, ...db.ours, BETTER_AUTH_SECRET: SECRET, BETTER_AUTH_DATA_DIR: db.dir, RUST_LOG: "warn" },
    encoding: "utf8",
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Upstream's own migrator (getMigrations) on `db`: what it would do, and optionally does it. */
export function runUpstreamMigrator(db, { apply = false, env = {} } = {}) {
  const r = spawnSync(process.execPath, [path.join(HERE, "upstream-migrate.mjs"), apply ? "--apply" : "--plan"], {
    env: { PATH: process.env.PATH, ...db.ref, BETTER_AUTH_SECRET: SECRET, ...env },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`upstream migrator failed:\n${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The schema as the catalog sees it: tables, columns (type, nullability, default), indexes. */
export async function schemaSnapshot(db) {
  if (db.kind === "sqlite") {
    // Column by column (not the CREATE text, which ALTER TABLE rewrites).
    const tables = await db.query("select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name");
    const lines = [];
    for (const { name } of tables) {
      for (const c of await db.query(`select * from pragma_table_info('${name}') order by cid`))
        lines.push(`column ${name}.${c.name} ${c.type} notnull=${c.notnull} default=${c.dflt_value} pk=${c.pk}`);
      for (const f of await db.query(`select * from pragma_foreign_key_list('${name}')`))
        lines.push(`fk ${name}.${f.from} -> ${f.table}.${f.to} on delete ${f.on_delete}`);
      for (const i of await db.query(`select * from pragma_index_list('${name}') order by name`)) {
        const cols = (await db.query(`select name from pragma_index_info('${i.name}') order by seqno`)).map((r) => r.name);
        lines.push(`index ${name}.${i.origin === "c" ? i.name : `(${i.origin})`} unique=${i.unique} (${cols.join(", ")})`);
      }
    }
    return lines;
  }
  const cols = await db.query(
    `select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns
     where table_schema = current_schema() order by table_name, ordinal_position`,
  );
  const idx = await db.query(
    "select tablename, indexname, indexdef from pg_indexes where schemaname = current_schema() order by indexname",
  );
  const fks = await db.query(
    `select conrelid::regclass::text as tbl, conname, pg_get_constraintdef(oid) as def from pg_constraint
     where connamespace = current_schema()::regnamespace order by conname`,
  );
  return [
    ...cols.map((c) => `column ${c.table_name}.${c.column_name} ${c.data_type} null=${c.is_nullable} default=${c.column_default}`),
    ...idx.map((i) => `index ${i.indexname}: ${i.indexdef.replace(/ ON \S+\./, " ON ")}`),
    ...fks.map((f) => `constraint ${f.tbl}.${f.conname}: ${f.def}`),
  ];
}

// Tables of ours that upstream does not know about: our migration log, and the rate
// limiter's table (the shape upstream's `rateLimit.storage = "database"` creates).
export const withoutOurTables = (lines) => lines.filter((l) => !/seaql_migrations|rateLimit/.test(l));

export const uniqueEmail = (tag) => `${tag}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.com`;

/** One request; `cookie` is a `name=value` string, `origin` defaults to the server's. */
export async function call(server, method, p, { json, cookie, origin, headers = {} } = {}) {
  const h = { ...headers };
  if (json !== undefined) h["content-type"] = "application/json";
  if (cookie) h.cookie = cookie;
  if (method !== "GET" && origin !== null) h.origin = origin ?? server.origin;
  const res = await fetch(`${server.url}/api/auth${p}`, {
    method,
    headers: h,
    body: json === undefined ? undefined : typeof json === "string" ? json : JSON.stringify(json),
    redirect: "manual",
  });
  const text = await res.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, headers: res.headers, body, text, cookies: res.headers.getSetCookie(), sentOrigin: "origin" in h };
}

/** The `name=value` of the session cookie a response set. */
export function sessionCookie(res) {
  const line = res.cookies.find((c) => c.startsWith("better-auth.session_token="));
  if (!line) throw new Error(`no session cookie in ${JSON.stringify(res.cookies)}`);
  return line.split(";")[0];
}
