// The options of the real Better Auth as the drop-in suite runs it, from the environment, so
// that the server (reference-server.mjs) and upstream's migrator (upstream-migrate.mjs) see
// the same schema:
//   REF_PLUGINS         comma list of upstream plugin ids (default "jwt,bearer"), in the
//                       order our registry uses: jwt, bearer, username, anonymous,
//                       multi-session, one-time-token, last-login-method, open-api
//   REF_OPTIONS         JSON: options per plugin, keyed by plugin id or by the factory's
//                       name, e.g. {"last-login-method": {"storeInDatabase": true}} or
//                       {"lastLoginMethod": {"storeInDatabase": true}, "multiSession": {"maximumSessions": 3}};
//                       a key naming no plugin of REF_PLUGINS is an error (never ignored)
//   REF_USER_FIELDS     JSON: user.additionalFields
//   REF_SESSION_FIELDS  JSON: session.additionalFields
//   REF_RESET_LOG       "1": password reset on, links printed to stderr as `RESET <url>`
//   REF_COOKIE_CACHE    JSON: session.cookieCache (e.g. {"enabled": true, "strategy": "jwe"})
//   REF_SESSION         JSON: more session options (e.g. {"deferSessionRefresh": true, "updateAge": 0})
import { anonymous, bearer, jwt, lastLoginMethod, multiSession, oneTimeToken, openAPI, username } from "better-auth/plugins";

const FACTORIES = {
  jwt,
  bearer,
  username,
  anonymous,
  "multi-session": multiSession,
  "one-time-token": oneTimeToken,
  "last-login-method": lastLoginMethod,
  "open-api": openAPI,
};

// "multi-session" -> "multiSession": the name of the factory export (REF_OPTIONS accepts both).
const camel = (id) => id.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

export function referenceOptions(database, env = process.env) {
  const ids = (env.REF_PLUGINS || "jwt,bearer").split(",").map((s) => s.trim()).filter(Boolean);
  const perPlugin = JSON.parse(env.REF_OPTIONS || "{}");
  for (const key of Object.keys(perPlugin)) {
    if (!ids.some((id) => key === id || key === camel(id))) {
      throw new Error(`reference: REF_OPTIONS.${key} names no plugin of REF_PLUGINS (${ids.join(",")})`);
    }
  }
  const plugins = ids.map((id) => {
    const make = FACTORIES[id];
    if (!make) throw new Error(`reference: unknown plugin ${id}`);
    return make(perPlugin[id] ?? perPlugin[camel(id)]);
  });
  return {
    baseURL: env.BASE_URL || "http://127.0.0.1:3000",
    basePath: "/api/auth",
    secret: env.BETTER_AUTH_SECRET,
    database,
    // With REF_RESET_LOG=1 the reset link goes to the log, where a test can read it;
    // otherwise password reset is not enabled (as in the differential sequence).
    emailAndPassword: {
      enabled: true,
      ...(env.REF_RESET_LOG === "1" ? { sendResetPassword: async ({ url }) => console.error(`RESET ${url}`) } : {}),
    },
    user: { additionalFields: JSON.parse(env.REF_USER_FIELDS || "{}") },
    session: {
      additionalFields: JSON.parse(env.REF_SESSION_FIELDS || "{}"),
      ...(env.REF_COOKIE_CACHE ? { cookieCache: JSON.parse(env.REF_COOKIE_CACHE) } : {}),
      ...JSON.parse(env.REF_SESSION || "{}"),
    },
    plugins,
    trustedOrigins: ["http://localhost:3000"],
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: { level: env.LOG_LEVEL || "error" },
  };
}

/** The database: PostgreSQL at DATABASE_URL, else the SQLite file DB_PATH. */
export async function referenceDatabase(env = process.env) {
  if (env.DATABASE_URL) {
    const { default: pg } = await import("pg");
    const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4 });
    return { database: pool, close: () => pool.end() };
  }
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(env.DB_PATH);
  db.pragma("journal_mode = WAL");
  return { database: db, close: () => db.close() };
}
