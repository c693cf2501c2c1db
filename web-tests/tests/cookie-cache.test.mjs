// The session cookie cache in a real Next.js 16 app, one strategy per setup: (a) compact,
// cross-origin; (b) jwe, same origin; (c) jwt, cross-origin. proxy.ts guards /dashboard and
// /cached with getSessionCookie; app/cached reads the session with getCookieCache and the
// secret, and compares with get-session fetched server-side. A sign-out in another tab ends
// everything at once (the cookies go); a sign-out everywhere from another device leaves the
// cache believed until its max age, as upstream documents, while storage says signed out.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { launchChromium } from "../lib/browser.mjs";

const SETUPS = [
  { name: "compact", app: process.env.APP_CROSS_ORIGIN, auth: "http://localhost:3101", segments: 1 },
  { name: "jwe", app: process.env.APP_SAME_ORIGIN, auth: process.env.APP_SAME_ORIGIN, segments: 5 },
  { name: "jwt", app: process.env.APP_JWT_CACHE, auth: "http://localhost:3301", segments: 3 },
];
const ARTIFACTS = path.join(import.meta.dirname, "..", "artifacts");
const PASSWORD = "password123";

let browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => browser?.close());

async function cachedPage(page, app) {
  await page.goto(`${app}/cached`);
  await page.getByTestId("cache-user").waitFor();
  const text = async (id) => (await page.getByTestId(id).textContent()).trim();
  return { strategy: await text("strategy"), cache: await text("cache-user"), server: await text("server-user"), fresh: await text("fresh-user") };
}

async function signIn(page, app, email) {
  await page.goto(`${app}/sign-in`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(`${app}/dashboard`);
  await page.getByTestId("welcome").waitFor();
}

/** Another device: signs in with fetch and signs the user out everywhere. */
async function signOutEverywhere(setup, email) {
  const origin = new URL(setup.app).origin;
  const signIn = await fetch(`${setup.auth}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(signIn.status, 200, await signIn.text());
  const cookie = signIn.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const revoke = await fetch(`${setup.auth}/api/auth/revoke-sessions`, {
    method: "POST",
    headers: { "content-type": "application/json", origin, cookie },
    body: "{}",
  });
  assert.equal(revoke.status, 200, await revoke.text());
}

for (const setup of SETUPS) {
  test(`cookie cache (${setup.name}): proxy.ts, getCookieCache, sign-out in another tab and elsewhere`, async () => {
    assert.ok(setup.app, `app URL for ${setup.name} not set`);
    const dir = path.join(ARTIFACTS, `cookie-cache-${setup.name}`);
    fs.mkdirSync(dir, { recursive: true });
    const context = await browser.newContext();
    const page = await context.newPage();
    const email = `cache-${setup.name}-${Date.now()}@example.com`;

    // The proxy sends a visitor without a session cookie to sign-in, before any page runs.
    await page.goto(`${setup.app}/cached`);
    await page.waitForURL(`${setup.app}/sign-in`);

    await page.goto(`${setup.app}/sign-up`);
    await page.getByLabel("Name", { exact: true }).fill("Cache Tester");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign up" }).click();
    // The auth server limits sign-ups per address (upstream's rule: 3 per 10 s); the tests
    // before this one may have used them up on the same server. Wait the window out once.
    const landed = await Promise.race([
      page.waitForURL(`${setup.app}/dashboard`).then(() => true),
      page.getByText("Too many requests").waitFor().then(() => false),
    ]);
    if (!landed) {
      await new Promise((r) => setTimeout(r, 11_000));
      await page.getByRole("button", { name: "Sign up" }).click();
      await page.waitForURL(`${setup.app}/dashboard`);
    }
    await page.getByTestId("welcome").waitFor();

    // The cache cookie: HttpOnly, sealed as configured.
    const data = (await context.cookies()).find((c) => c.name === "better-auth.session_data");
    assert.ok(data, "no session_data cookie");
    assert.equal(data.httpOnly, true);
    assert.equal(data.value.split(".").length, setup.segments, data.value);

    const signedIn = await cachedPage(page, setup.app);
    assert.deepEqual(signedIn, { strategy: setup.name, cache: email, server: email, fresh: email });
    await page.screenshot({ path: path.join(dir, "01-cached-page.png"), fullPage: true });

    // Sign out in another tab: the cookies go, so this tab is signed out at once.
    const tab = await context.newPage();
    await tab.goto(`${setup.app}/dashboard`);
    await tab.getByRole("button", { name: "Sign out" }).click();
    await tab.waitForURL(`${setup.app}/sign-in`);
    await tab.close();
    await page.goto(`${setup.app}/cached`);
    await page.waitForURL(`${setup.app}/sign-in`);
    assert.equal((await context.cookies()).filter((c) => c.name.startsWith("better-auth.session_data")).length, 0);

    // Signed in again, then signed out everywhere from another device: this browser keeps
    // its cache cookie, which stays believed until max_age; storage says signed out.
    await signIn(page, setup.app, email);
    await signOutEverywhere(setup, email);
    const elsewhere = await cachedPage(page, setup.app);
    assert.deepEqual(elsewhere, { strategy: setup.name, cache: email, server: email, fresh: "none" });
    await page.screenshot({ path: path.join(dir, "02-signed-out-elsewhere.png"), fullPage: true });
    await context.close();
  });
}
