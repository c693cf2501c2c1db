// Account management through the unmodified Better Auth client: update the profile, list
// and revoke sessions, change the password. (The mail flows are covered by the Rust tests
// with a real SMTP listener; this server runs without mail.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { newClient, unique } from "./helpers.mjs";

test("updateUser, listSessions, revokeOtherSessions, changePassword", async () => {
  const email = unique();
  const { client: laptop } = newClient();
  const { client: phone } = newClient();
  const signUp = await laptop.signUp.email({ name: "Before", email, password: "password123" });
  assert.equal(signUp.error, null, JSON.stringify(signUp.error));
  const onPhone = await phone.signIn.email({ email, password: "password123" });
  assert.equal(onPhone.error, null, JSON.stringify(onPhone.error));

  const updated = await laptop.updateUser({ name: "After", image: "https://img.example/a.png" });
  assert.equal(updated.error, null, JSON.stringify(updated.error));
  assert.equal(updated.data.status, true);
  const session = await laptop.getSession();
  assert.equal(session.data.user.name, "After");
  assert.equal(session.data.user.image, "https://img.example/a.png");
  const refused = await laptop.updateUser({ email: "other@example.com" });
  assert.equal(refused.error.status, 400);
  assert.equal(refused.error.code, "EMAIL_CAN_NOT_BE_UPDATED");

  const sessions = await laptop.listSessions();
  assert.equal(sessions.error, null, JSON.stringify(sessions.error));
  assert.equal(sessions.data.length, 2);
  assert.ok(sessions.data[0].expiresAt instanceof Date);
  assert.ok(sessions.data.some((s) => s.token === signUp.data.token));

  const revoked = await laptop.revokeOtherSessions();
  assert.equal(revoked.error, null, JSON.stringify(revoked.error));
  assert.equal((await phone.getSession()).data, null, "the phone is signed out");
  assert.equal((await laptop.listSessions()).data.length, 1);

  const wrong = await laptop.changePassword({ currentPassword: "not it at all", newPassword: "password456" });
  assert.equal(wrong.error.code, "INVALID_PASSWORD");
  const changed = await laptop.changePassword({
    currentPassword: "password123",
    newPassword: "password456",
    revokeOtherSessions: true,
  });
  assert.equal(changed.error, null, JSON.stringify(changed.error));
  assert.equal(typeof changed.data.token, "string");
  assert.notEqual(changed.data.token, signUp.data.token);
  const after = await laptop.getSession();
  assert.equal(after.data.session.token, changed.data.token, "the client holds the new session");

  const old = await phone.signIn.email({ email, password: "password123" });
  assert.equal(old.error.code, "INVALID_EMAIL_OR_PASSWORD");
  const fresh = await phone.signIn.email({ email, password: "password456" });
  assert.equal(fresh.error, null);

  const revokedAll = await laptop.revokeSessions();
  assert.equal(revokedAll.error, null);
  assert.equal((await laptop.getSession()).data, null);
  assert.equal((await phone.getSession()).data, null);
});
