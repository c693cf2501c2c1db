// Records `session_data` cookies made by the real Better Auth (the version in package.json),
// one per cookie-cache strategy, into tests/fixtures/better-auth-<version>-cookie-cache.json.
// The Rust test `cookie_cache::upstream_cookies_open` opens them. Run from this folder:
//   node record-cookie-cache.mjs
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VERSION = JSON.parse(fs.readFileSync(path.join(HERE, "node_modules/better-auth/package.json"), "utf8")).version;
const SECRET = "cookie-cache-vectors-secret-0123456789abcdef";
const MAX_AGE = 300;

const cookies = [];
for (const strategy of ["compact", "jwt", "jwe"]) {
  const options = {
    baseURL: "http://127.0.0.1:3000",
    secret: SECRET,
    database: new Database(":memory:"),
    emailAndPassword: { enabled: true },
    session: { cookieCache: { enabled: true, strategy, maxAge: MAX_AGE } },
    telemetry: { enabled: false },
    logger: { level: "error" },
  };
  await (await getMigrations(options)).runMigrations();
  const auth = betterAuth(options);
  const email = `${strategy}@example.com`;
  const madeAt = Date.now();
  const res = await auth.api.signUpEmail({
    body: { email, password: "password123", name: strategy },
    asResponse: true,
  });
  const set = res.headers.getSetCookie();
  const pair = (name) => set.map((c) => c.split(";")[0]).find((p) => p.startsWith(`${name}=`));
  const value = pair("better-auth.session_data").split("=").slice(1).join("=");
  const body = await res.json();
  cookies.push({ strategy, maxAge: MAX_AGE, madeAt, email, token: body.token, value });
}
const out = path.join(HERE, `../fixtures/better-auth-${VERSION}-cookie-cache.json`);
fs.writeFileSync(out, JSON.stringify({ betterAuth: VERSION, secret: SECRET, cookies }, null, 2) + "\n");
console.log(`wrote ${out}`);
