// The open-api plugin on both servers with the same plugins: our document has every
// operation upstream's has (same paths and methods, same operation ids where upstream names
// one), and our request bodies list every field upstream's do, but for the few differences
// below (each with its reason).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { call, freshDatabase, startOurs, startReference } from "./helpers.mjs";

const PLUGINS = "jwt,bearer,username,anonymous,multi-session,one-time-token,last-login-method,open-api";
// Ours only: readiness, and the document and reference page upstream leaves out of its own
// document.
const OURS_ONLY = new Set(["GET /readyz", "GET /open-api/generate-schema", "GET /reference", "GET /reference/redoc.standalone.js"]);
// Body fields upstream documents that we do not list: the form-post callback's (we take
// the whole form, documented as an open object, and hand it to the GET callback).
const BODY_FIELDS_NOT_READ = {
  "POST /callback/{id}": ["code", "device_id", "error", "error_description", "iss", "state", "user"],
};

const toTemplate = (p) => p.replace(/:(\w+)/g, "{$1}");
function operations(doc) {
  const out = new Map();
  for (const [p, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) out.set(`${method.toUpperCase()} ${toTemplate(p)}`, op);
  }
  return out;
}
const bodyFields = (op) => Object.keys(op?.requestBody?.content?.["application/json"]?.schema?.properties ?? {});

describe("open-api: our document against upstream's, same plugins", () => {
  let db, ref, ours, theirs, mine;
  before(async () => {
    db = await freshDatabase("sqlite");
    ref = await startReference(db, { REF_PLUGINS: PLUGINS });
    ours = await startOurs(db, { BETTER_AUTH_PLUGINS: PLUGINS.replace("jwt,bearer,", "") });
    const a = await call(ref, "GET", "/open-api/generate-schema");
    const b = await call(ours, "GET", "/open-api/generate-schema");
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    theirs = operations(a.body);
    mine = operations(b.body);
  });
  after(async () => {
    await ours?.stop();
    await ref?.stop();
  });

  test("the same operations, and upstream's operation ids", () => {
    const missing = [...theirs.keys()].filter((k) => !mine.has(k));
    assert.deepEqual(missing, [], "operations upstream documents that we do not");
    const extra = [...mine.keys()].filter((k) => !theirs.has(k) && !OURS_ONLY.has(k));
    assert.deepEqual(extra, [], "operations we document that upstream does not");
    for (const [key, op] of theirs) {
      if (op.operationId) assert.equal(mine.get(key).operationId, op.operationId, key);
    }
  });

  test("request bodies list upstream's fields", () => {
    for (const [key, op] of theirs) {
      const notRead = BODY_FIELDS_NOT_READ[key] ?? [];
      const absent = bodyFields(op).filter((f) => !bodyFields(mine.get(key)).includes(f) && !notRead.includes(f));
      assert.deepEqual(absent, [], `${key}: upstream's body fields we do not document`);
    }
  });
});
