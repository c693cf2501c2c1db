// Shared by the client tests: AUTH_URL and a fetch that behaves like a browser.
import { createAuthClient } from "better-auth/client";

export const AUTH_URL = process.env.AUTH_URL;
if (!AUTH_URL) throw new Error("AUTH_URL (the better-auth-server origin) is required");

/** A fetch with a cookie jar that sends an Origin on POSTs, as a browser does. */
export function browserLikeFetch() {
  const jar = new Map();
  const fetchWithJar = async (input, init = {}) => {
    const request = new Request(input, init);
    const headers = new Headers(request.headers);
    if (jar.size) headers.set("cookie", [...jar].map(([k, v]) => `${k}=${v}`).join("; "));
    if (request.method !== "GET") headers.set("origin", new URL(AUTH_URL).origin);
    const response = await fetch(new Request(request, { headers }));
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(";")[0];
      const eq = pair.indexOf("=");
      const [name, value] = [pair.slice(0, eq), pair.slice(eq + 1)];
      if (/;\s*max-age=0/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  };
  return { fetchWithJar, jar };
}

/** A Better Auth client with its own cookie jar (a browser profile). */
export function newClient(plugins = []) {
  const { fetchWithJar, jar } = browserLikeFetch();
  const client = createAuthClient({ baseURL: AUTH_URL, plugins, fetchOptions: { customFetchImpl: fetchWithJar } });
  return { client, jar };
}

export const unique = () => `user-${Date.now()}-${Math.random().toString(36).slice(2)}@Example.com`;
