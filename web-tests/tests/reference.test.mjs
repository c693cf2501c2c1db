// The open-api plugin's reference page in Chromium with every request to another host
// refused: it loads only from the auth server and renders the endpoints.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { launchChromium } from "../lib/browser.mjs";

const AUTH = "http://localhost:3101";
const ARTIFACTS = path.join(import.meta.dirname, "..", "artifacts", "reference");

let browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => browser?.close());

test("the API reference renders offline", async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const context = await browser.newContext();
  const elsewhere = [];
  await context.route("**/*", (route) => {
    const { hostname } = new URL(route.request().url());
    if (hostname === "localhost" || hostname === "127.0.0.1" || route.request().url().startsWith("data:")) {
      return route.continue();
    }
    elsewhere.push(route.request().url());
    return route.abort();
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${AUTH}/api/auth/reference`);
  // Redoc's sidebar and an operation's own description from the document.
  await page.getByText("Signs in with an email and password").first().waitFor({ timeout: 30_000 });
  await page.getByText("/sign-up/email").first().waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, "01-reference.png") });
  assert.deepEqual(elsewhere, [], "the page asked another host");
  assert.deepEqual(errors, []);
  await context.close();
});
