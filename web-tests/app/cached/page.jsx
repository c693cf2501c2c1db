// A server component that knows the user without a round trip: the session cookie cache
// (`session_data`, written by better-auth-server with BETTER_AUTH_COOKIE_CACHE=true) read
// with getCookieCache and the shared secret. Beside it, for comparison, get-session fetched
// server-side with the browser's cookies (answered from the same cache by the auth server)
// and with ?disableCookieCache=true (answered from the auth server's storage).
import { headers } from "next/headers";
import { getCookieCache } from "better-auth/cookies";

export const dynamic = "force-dynamic";

async function serverSide(cookie, query) {
  const response = await fetch(`${process.env.AUTH_SERVER_URL}/api/auth/get-session${query}`, {
    headers: { cookie },
    cache: "no-store",
  });
  const body = await response.json();
  return body?.user?.email ?? "none";
}

export default async function Cached() {
  const requestHeaders = await headers();
  const cookie = requestHeaders.get("cookie") || "";
  const strategy = process.env.COOKIE_CACHE_STRATEGY || "compact";
  const cached = await getCookieCache(requestHeaders, {
    secret: process.env.BETTER_AUTH_SECRET,
    strategy,
    isSecure: false,
  });
  const [forwarded, fromStorage] = await Promise.all([
    serverSide(cookie, ""),
    serverSide(cookie, "?disableCookieCache=true"),
  ]);
  return (
    <main>
      <h1>Session from the cookie cache</h1>
      <p>Strategy: <code data-testid="strategy">{strategy}</code></p>
      <p>getCookieCache: <span data-testid="cache-user">{cached?.user?.email ?? "none"}</span></p>
      <p>get-session, cookies forwarded: <span data-testid="server-user">{forwarded}</span></p>
      <p>get-session from storage: <span data-testid="fresh-user">{fromStorage}</span></p>
    </main>
  );
}
