// JWTs from better-auth-server as API consumers meet them: the real client's
// `authClient.token()` (jwtClient plugin), then jose verifying against /api/auth/jwks the way
// a Node API would (createRemoteJWKSet + jwtVerify with issuer and audience).
import { test } from "node:test";
import assert from "node:assert/strict";
import { jwtClient } from "better-auth/client/plugins";
import { createRemoteJWKSet, jwtVerify, decodeProtectedHeader, SignJWT } from "jose";
import { AUTH_URL, newClient, unique } from "./helpers.mjs";

const ORIGIN = new URL(AUTH_URL).origin;
const JWKS = createRemoteJWKSet(new URL("/api/auth/jwks", AUTH_URL));
const expected = { issuer: ORIGIN, audience: ORIGIN, algorithms: ["EdDSA"] };

async function signedInClient() {
  const { client } = newClient([jwtClient()]);
  const email = unique();
  const signUp = await client.signUp.email({ name: "JWT User", email, password: "password123" });
  assert.equal(signUp.error, null, JSON.stringify(signUp.error));
  return { client, user: signUp.data.user };
}

test("authClient.token() returns a JWT that jose verifies against /jwks", async () => {
  const { client, user } = await signedInClient();
  const { data, error } = await client.token();
  assert.equal(error, null, JSON.stringify(error));
  const { payload, protectedHeader } = await jwtVerify(data.token, JWKS, expected);
  assert.equal(protectedHeader.alg, "EdDSA");
  assert.deepEqual(Object.keys(protectedHeader).sort(), ["alg", "kid"]);
  assert.equal(payload.sub, user.id);
  assert.equal(payload.email, user.email);
  assert.equal(payload.exp - payload.iat, 900);

  const jwks = await client.jwks();
  assert.equal(jwks.error, null);
  assert.ok(jwks.data.keys.some((k) => k.kid === protectedHeader.kid && k.kty === "OKP" && !("d" in k)));
});

test("get-session carries the same kind of JWT in set-auth-jwt", async () => {
  const { client, user } = await signedInClient();
  let headerJwt = null;
  const session = await client.getSession({
    fetchOptions: { onSuccess: (ctx) => { headerJwt = ctx.response.headers.get("set-auth-jwt"); } },
  });
  assert.equal(session.data.user.id, user.id);
  assert.ok(headerJwt, "set-auth-jwt header present");
  const { payload } = await jwtVerify(headerJwt, JWKS, expected);
  assert.equal(payload.sub, user.id);
});

test("jose refuses tampered, expired, misdirected and forged tokens", async () => {
  const { client } = await signedInClient();
  const { data } = await client.token();
  const [h, p, s] = data.token.split(".");
  const claims = JSON.parse(Buffer.from(p, "base64url"));
  claims.sub = "someone-else";
  const tampered = [h, Buffer.from(JSON.stringify(claims)).toString("base64url"), s].join(".");
  await assert.rejects(jwtVerify(tampered, JWKS, expected), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });

  const later = new Date(Date.now() + 16 * 60 * 1000);
  await assert.rejects(jwtVerify(data.token, JWKS, { ...expected, currentDate: later }), { code: "ERR_JWT_EXPIRED" });
  await assert.rejects(jwtVerify(data.token, JWKS, { ...expected, audience: "https://other.example" }), {
    code: "ERR_JWT_CLAIM_VALIDATION_FAILED",
  });

  // Same kid, but signed with a key that is not ours.
  const { kid } = decodeProtectedHeader(data.token);
  const { generateKeyPair } = await import("jose");
  const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const forged = await new SignJWT(claims).setProtectedHeader({ alg: "EdDSA", kid }).sign(privateKey);
  await assert.rejects(jwtVerify(forged, JWKS, expected), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
});

test("no session, no token", async () => {
  const { client } = newClient([jwtClient()]);
  const { data, error } = await client.token();
  assert.equal(data, null);
  assert.equal(error.status, 401);
  assert.equal(error.code, "UNAUTHORIZED");
});
