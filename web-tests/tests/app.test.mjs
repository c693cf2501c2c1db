// The Next.js app in headless Chromium (Debian's, driven by playwright-core), in both
// setups: (a) auth server on its own origin, (b) same origin through Next.js rewrites.
// APP_CROSS_ORIGIN and APP_SAME_ORIGIN are the app URLs started by run.sh.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { launchChromium } from "../lib/browser.mjs";

const SETUPS = [
  { name: "cross-origin", app: process.env.APP_CROSS_ORIGIN },
  { name: "same-origin", app: process.env.APP_SAME_ORIGIN },
];
const ARTIFACTS = path.join(import.meta.dirname, "..", "artifacts");

let browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => browser?.close());

function screenshots(setup) {
  const dir = path.join(ARTIFACTS, setup);
  fs.mkdirSync(dir, { recursive: true });
  let n = 0;
  return (page, step) => page.screenshot({ path: path.join(dir, `${String(++n).padStart(2, "0")}-${step}.png`), fullPage: true });
}

for (const setup of SETUPS) {
  test(`${setup.name}: sign up, session, JWT to the API, sign out, errors`, async () => {
    assert.ok(setup.app, `app URL for ${setup.name} not set`);
    const shot = screenshots(setup.name);
    const context = await browser.newContext();
    const page = await context.newPage();
    const email = `web-${setup.name}-${Date.now()}@example.com`;
    const name = `Web Tester ${setup.name}`;

    // Sign up and land on the dashboard showing the user's name.
    await page.goto(`${setup.app}/sign-up`);
    await page.getByLabel("Name", { exact: true }).fill(name);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("password123");
    await shot(page, "sign-up-form");
    await page.getByRole("button", { name: "Sign up" }).click();
    await page.waitForURL(`${setup.app}/dashboard`);
    await page.getByTestId("welcome").waitFor();
    assert.match(await page.getByTestId("welcome").textContent(), new RegExp(name));
    await shot(page, "dashboard");

    // Reload keeps the session.
    await page.reload();
    await page.getByTestId("welcome").waitFor();
    assert.match(await page.getByTestId("welcome").textContent(), new RegExp(email));
    await shot(page, "dashboard-after-reload");

    // The session cookie is HttpOnly: scripts cannot read it.
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "better-auth.session_token");
    assert.ok(session, `session cookie present: ${cookies.map((c) => c.name)}`);
    assert.equal(session.httpOnly, true);
    assert.ok(!(await page.evaluate(() => document.cookie)).includes("session_token"));

    // A JWT from authClient.token() opens the example API, which shows the user's id.
    await page.getByRole("button", { name: "Call the API with a JWT" }).click();
    await page.getByTestId("api-answer").waitFor();
    const userId = await page.getByTestId("user-id").textContent();
    assert.match(userId, /^[A-Za-z0-9]{32}$/);
    assert.equal(await page.getByTestId("api-answer").textContent(), `API says: user id ${userId}`);
    await shot(page, "api-answer");

    // A second browser context has no session.
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    await otherPage.goto(`${setup.app}/dashboard`);
    await otherPage.waitForURL(`${setup.app}/sign-in`);
    await shot(otherPage, "second-context-redirected");
    await other.close();

    // Sign out: back to sign-in, and the dashboard is closed.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${setup.app}/sign-in`);
    await page.goto(`${setup.app}/dashboard`);
    await page.waitForURL(`${setup.app}/sign-in`);
    await shot(page, "signed-out");

    // A wrong password shows the server's message.
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("form-error").waitFor();
    assert.equal(await page.getByTestId("form-error").textContent(), "Invalid email or password");
    await shot(page, "wrong-password");

    // The right one signs in again.
    await page.getByLabel("Password").fill("password123");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${setup.app}/dashboard`);
    await page.getByTestId("welcome").waitFor();
    await shot(page, "signed-in-again");
    await context.close();
  });
}

for (const setup of SETUPS) {
  test(`${setup.name}: sign in with the generic OIDC provider (oidc-provider login and consent)`, async () => {
    assert.ok(setup.app, `app URL for ${setup.name} not set`);
    const op = process.env.OP_URL;
    assert.ok(op, "OP_URL not set");
    const shot = screenshots(`${setup.name}-oidc`);
    const context = await browser.newContext();
    const page = await context.newPage();
    const login = `oidc-${setup.name}-${Date.now()}`;

    await page.goto(`${setup.app}/sign-in`);
    await page.getByRole("button", { name: "Continue with OIDC" }).click();
    // The provider's own login page, then its consent page.
    await page.waitForURL((url) => url.origin === op);
    await page.locator('input[name="login"]').fill(login);
    await page.locator('input[name="password"]').fill("any-password");
    await shot(page, "op-login");
    await page.locator('button[type="submit"]').click();
    await page.waitForURL((url) => url.origin === op && url.pathname.startsWith("/interaction/"));
    await shot(page, "op-consent");
    await page.locator('button[type="submit"]').click();

    // Back through the server's callback to the dashboard, signed in.
    await page.waitForURL(`${setup.app}/dashboard`);
    await page.getByTestId("welcome").waitFor();
    const welcome = await page.getByTestId("welcome").textContent();
    assert.match(welcome, new RegExp(`${login}@example.com`));
    assert.match(welcome, new RegExp(`OIDC ${login}`));
    await shot(page, "dashboard");
    const cookies = await context.cookies();
    assert.ok(cookies.some((c) => c.name === "better-auth.session_token" && c.httpOnly));
    assert.ok(!cookies.some((c) => c.name === "better-auth.state"), "state cookie used up");

    // A second sign-in is the same user (returning user).
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${setup.app}/sign-in`);
    await page.getByRole("button", { name: "Continue with OIDC" }).click();
    await page.waitForURL((url) => url.origin === op || url.href === `${setup.app}/dashboard`);
    // The provider remembers the browser; if it asks again, its forms are submitted.
    for (let i = 0; i < 4 && new URL(page.url()).origin === op; i++) {
      if (await page.locator('input[name="login"]').count()) {
        await page.locator('input[name="login"]').fill(login);
        await page.locator('input[name="password"]').fill("any-password");
      }
      const before = page.url();
      await Promise.all([
        page.waitForURL((url) => url.href !== before),
        page.locator('button[type="submit"]').click(),
      ]);
    }
    await page.waitForURL(`${setup.app}/dashboard`);
    await page.getByTestId("welcome").waitFor();
    assert.match(await page.getByTestId("welcome").textContent(), new RegExp(`${login}@example.com`));
    await shot(page, "returning-user");
    await context.close();
  });
}

for (const setup of SETUPS) {
  test(`${setup.name}: username sign-up and sign-in, and an account switcher (multi-session)`, async () => {
    assert.ok(setup.app, `app URL for ${setup.name} not set`);
    const shot = screenshots(`${setup.name}-plugins`);
    const context = await browser.newContext();
    const page = await context.newPage();
    const stamp = `${Date.now().toString(36)}${setup.name.length}`;
    const users = [
      { name: "Ada", email: `ada-${stamp}@example.com`, username: `Ada_${stamp}` },
      { name: "Bo", email: `bo-${stamp}@example.com`, username: `bo_${stamp}` },
    ];
    for (const user of users) {
      await page.goto(`${setup.app}/sign-up`);
      await page.getByLabel("Name", { exact: true }).fill(user.name);
      await page.getByLabel("Email").fill(user.email);
      await page.getByLabel("Username (optional)").fill(user.username);
      await page.getByLabel("Password").fill("password123");
      await page.getByRole("button", { name: "Sign up" }).click();
      await page.waitForURL(`${setup.app}/dashboard`);
      await page.getByTestId("welcome").waitFor();
      assert.match(await page.getByTestId("welcome").textContent(), new RegExp(user.email));
    }
    // Both accounts are in this browser; Bo is active.
    const accounts = page.getByTestId("accounts");
    await accounts.getByText(`@${users[0].username.toLowerCase()}`).waitFor();
    assert.match(await accounts.textContent(), new RegExp(`@${users[1].username}`));
    await shot(page, "two-accounts");
    await page.getByRole("button", { name: `Switch to ${users[0].email}` }).click();
    await page.waitForURL(`${setup.app}/dashboard`);
    await page.getByTestId("welcome").waitFor();
    await page.waitForFunction((email) => document.querySelector("[data-testid=welcome]")?.textContent.includes(email), users[0].email);
    await shot(page, "switched-to-ada");

    // Sign out ends both; then the username signs in again (any letter case).
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${setup.app}/sign-in`);
    assert.equal((await context.cookies()).filter((c) => c.name.includes("_multi-")).length, 0);
    await page.goto(`${setup.app}/sign-in/username`);
    await page.getByLabel("Username").fill(users[0].username.toUpperCase());
    await page.getByLabel("Password").fill("wrong-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByTestId("form-error").waitFor();
    assert.equal(await page.getByTestId("form-error").textContent(), "Invalid username or password");
    await page.getByLabel("Password").fill("password123");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(`${setup.app}/dashboard`);
    await page.getByTestId("welcome").waitFor();
    assert.match(await page.getByTestId("welcome").textContent(), new RegExp(users[0].email));
    await shot(page, "username-sign-in");
    await context.close();
  });
}

for (const setup of SETUPS) {
  test(`${setup.name}: a guest (anonymous plugin) signs up and keeps going; the sign-in page shows the last method (last-login-method)`, async () => {
    const shot = screenshots(`${setup.name}-guest`);
    const context = await browser.newContext();
    const page = await context.newPage();

    // A fresh browser: no hint yet. Continue as a guest: a session for an anonymous user.
    await page.goto(`${setup.app}/sign-in`);
    await page.getByRole("button", { name: "Continue as a guest" }).waitFor();
    assert.equal(await page.getByTestId("last-used").count(), 0);
    await page.getByRole("button", { name: "Continue as a guest" }).click();
    await page.waitForURL(`${setup.app}/dashboard`);
    await page.getByTestId("guest").waitFor();
    assert.match(await page.getByTestId("welcome").textContent(), /^Signed in as Anonymous \(/);
    const guestId = await page.getByTestId("user-id").textContent();
    await shot(page, "guest-dashboard");

    // The guest creates an account: the new user's session replaces the guest's.
    await page.getByTestId("guest").getByRole("link", { name: "Create an account" }).click();
    await page.waitForURL(`${setup.app}/sign-up`);
    const email = `guest-${setup.name}-${Date.now()}@example.com`;
    // Rate limiting is on (3 sign-ups per 10 s from one address, as upstream), and the
    // tests before this one signed up too: a 429 is shown, and a person would try again.
    for (let attempt = 1; ; attempt++) {
      await page.getByLabel("Name", { exact: true }).fill("Former Guest");
      await page.getByLabel("Email").fill(email);
      await page.getByLabel("Password").fill("password123");
      await page.getByRole("button", { name: "Sign up" }).click();
      const landed = page.waitForURL(`${setup.app}/dashboard`).then(() => "dashboard", () => "timeout");
      const refused = page.getByText("Too many requests").waitFor().then(() => "refused", () => "timeout");
      const outcome = await Promise.race([landed, refused]);
      if (outcome === "dashboard") break;
      assert.ok(outcome === "refused" && attempt < 3, `sign-up: ${outcome} (attempt ${attempt})`);
      await page.waitForTimeout(10_500);
      await page.reload();
    }
    await page.getByTestId("welcome").waitFor();
    assert.equal(await page.getByTestId("welcome").textContent(), `Signed in as Former Guest (${email})`);
    assert.equal(await page.getByTestId("guest").count(), 0);
    assert.notEqual(await page.getByTestId("user-id").textContent(), guestId);
    await shot(page, "upgraded-dashboard");

    // Signed out, the sign-in page remembers the way this browser signed in last.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${setup.app}/sign-in`);
    await page.getByTestId("last-used").waitFor();
    assert.equal(await page.getByTestId("last-used").textContent(), "Last used: email");
    await shot(page, "last-used-hint");
    await context.close();
  });
}
