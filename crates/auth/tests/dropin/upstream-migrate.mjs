// Upstream's own migrator (better-auth/db/migration, the installed npm package) with the
// reference server's options (reference-options.mjs: plugins and fields from REF_*). Prints, as JSON, what it
// plans for the database: tables to create, columns and indexes to add, the SQL.
//
//   DATABASE_URL=postgres://... | DB_PATH=file.db  node upstream-migrate.mjs --plan|--apply
import { getMigrations } from "better-auth/db/migration";

import { referenceDatabase, referenceOptions } from "./reference-options.mjs";

const { database, close } = await referenceDatabase();
const options = referenceOptions(database);
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
