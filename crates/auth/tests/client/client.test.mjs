// The unmodified Better Auth client (`better-auth/client`, version pinned in package.json)
// against a running better-auth-server (AUTH_URL, its origin). The cookie jar in
// helpers.mjs plays the browser's part.
import { test } from "node:test";
import assert from "node:assert/strict";
import { newClient, unique } from "./helpers.mjs";

test("sign up, read the session, sign out, sign in again", async () => {
  const { client, jar } = newClient();
  const email = unique();

  const signUp = await client.signUp.email({ name: "Node Client", email, password: "password123" });
  assert.equal(signUp.error, null, JSON.stringify(signUp.error));
  assert.equal(signUp.data.user.email, email.toLowerCase());
  assert.equal(typeof signUp.data.token, "string");
  assert.ok(signUp.data.user.createdAt instanceof Date, "the client revives our dates");
  assert.ok(jar.has("better-auth.session_token"));

  const session = await client.getSession();
  assert.equal(session.error, null);
  assert.equal(session.data.user.id, signUp.data.user.id);
  assert.equal(session.data.session.token, signUp.data.token);
  assert.ok(session.data.session.expiresAt instanceof Date);
  assert.ok(session.data.session.expiresAt > new Date(Date.now() + 6 * 86400_000));

  const signOut = await client.signOut();
  assert.equal(signOut.error, null, JSON.stringify(signOut.error));
  assert.equal(signOut.data.success, true);
  assert.ok(!jar.has("better-auth.session_token"), "sign-out expired the cookie");
  const afterSignOut = await client.getSession();
  assert.equal(afterSignOut.data, null);

  const signIn = await client.signIn.email({ email, password: "password123" });
  assert.equal(signIn.error, null, JSON.stringify(signIn.error));
  assert.equal(signIn.data.user.id, signUp.data.user.id);
  assert.equal(signIn.data.redirect, false);
  const again = await client.getSession();
  assert.equal(again.data.user.email, email.toLowerCase());
});

test("errors carry Better Auth's codes", async () => {
  const { client } = newClient();
  const email = unique();
  await client.signUp.email({ name: "Dup", email, password: "password123" });

  const dup = await client.signUp.email({ name: "Dup", email, password: "password123" });
  assert.equal(dup.data, null);
  assert.equal(dup.error.status, 422);
  assert.equal(dup.error.code, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL");

  const wrong = await client.signIn.email({ email, password: "not-the-password" });
  assert.equal(wrong.error.status, 401);
  assert.equal(wrong.error.code, "INVALID_EMAIL_OR_PASSWORD");
  assert.equal(wrong.error.message, "Invalid email or password");

  const short = await client.signUp.email({ name: "S", email: unique(), password: "short" });
  assert.equal(short.error.code, "PASSWORD_TOO_SHORT");
});

test("remember me off gives a browser-session cookie and a one-day session", async () => {
  const { client, jar } = newClient();
  const email = unique();
  await client.signUp.email({ name: "R", email, password: "password123" });
  await client.signOut();
  const signIn = await client.signIn.email({ email, password: "password123", rememberMe: false });
  assert.equal(signIn.error, null);
  assert.ok(jar.has("better-auth.dont_remember"));
  const session = await client.getSession();
  const hours = (session.data.session.expiresAt - Date.now()) / 3600_000;
  assert.ok(hours > 23 && hours <= 24.01, `session lasts ${hours}h`);
});

test("a second client has no session", async () => {
  const { client } = newClient();
  const session = await client.getSession();
  assert.equal(session.data, null);
  assert.equal(session.error, null);
});
