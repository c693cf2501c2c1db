// Upstream's own migrator (better-auth/db/migration, the installed npm package) with the
// reference server's options (emailAndPassword, jwt, bearer). Prints, as JSON, what it
// plans for the database: tables to create, columns and indexes to add, the SQL.
//
//   DATABASE_URL=postgres://... | DB_PATH=file.db  node upstream-migrate.mjs --plan|--apply
import { getMigrations } from "better-auth/db/migration";
import { bearer } from "better-auth/plugins/bearer";
import { jwt } from "better-auth/plugins/jwt";

let database;
let close;
if (process.env.DATABASE_URL) {
  const { default: pg } = await import("pg");
  database = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
  close = () => database.end();
} else {
  const { default: Database } = await import("better-sqlite3");
  database = new Database(process.env.DB_PATH);
  close = () => database.close();
}
const options = {
  baseURL: "http://127.0.0.1:3000",
  secret: process.env.BETTER_AUTH_SECRET,
  database,
  emailAndPassword: { enabled: true },
  plugins: [jwt(), bearer()],
  telemetry: { enabled: false },
  logger: { level: "error" },
};
const plan = await getMigrations(options);
const sql = await plan.compileMigrations();
if (process.argv.includes("--apply")) await plan.runMigrations();
console.log(
  JSON.stringify({
    toBeCreated: plan.toBeCreated.map((t) => t.table),
    toBeAdded: plan.toBeAdded.map((t) => ({ table: t.table, fields: Object.keys(t.fields) })),
    toBeAddedIndexes: plan.toBeAddedIndexes.map((i) => i.name),
    schemaProblems: plan.schemaProblems,
    unsafeChanges: plan.unsafeChanges,
    sql: sql === ";" ? "" : sql,
  }),
);
await close();
