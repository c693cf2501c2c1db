// The plugin configuration both servers run with in plugins.test.mjs and the plugin
// sequence of differential.test.mjs: upstream's options for the reference, env + TOML for ours.
import fs from "node:fs";
import path from "node:path";

export const PLUGINS = "jwt,bearer,username,anonymous,multi-session,one-time-token,last-login-method";
const USER_FIELDS = {
  plan: { type: "string", required: false, defaultValue: "free" },
  age: { type: "number", required: false },
  tags: { type: "string[]", required: false },
  secretNote: { type: "string", required: false, input: false },
};
const SESSION_FIELDS = { device: { type: "string", required: false } };
export const PLUGIN_REFERENCE_ENV = {
  REF_PLUGINS: PLUGINS,
  REF_OPTIONS: JSON.stringify({ "last-login-method": { storeInDatabase: true } }),
  REF_USER_FIELDS: JSON.stringify(USER_FIELDS),
  REF_SESSION_FIELDS: JSON.stringify(SESSION_FIELDS),
};
const OUR_TOML = `
[plugins.last_login_method]
store_in_database = true
[user.additional_fields.plan]
type = "string"
required = false
default = "free"
[user.additional_fields.age]
type = "number"
required = false
[user.additional_fields.tags]
type = "string[]"
required = false
[user.additional_fields.secretNote]
type = "string"
required = false
input = false
[session.additional_fields.device]
type = "string"
required = false
`;

export function pluginEnv(db) {
  const file = path.join(db.dir, "plugins.toml");
  fs.writeFileSync(file, OUR_TOML);
  return { BETTER_AUTH_CONFIG: file, BETTER_AUTH_PLUGINS: PLUGINS };
}

