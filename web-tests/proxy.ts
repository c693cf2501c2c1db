// Next.js 16 proxy (formerly middleware): pages that need a session are guarded without
// calling the auth server, from the cookies alone, with the helpers of `better-auth/cookies`.
// getSessionCookie only checks that a session cookie is there (cheap, not a proof: the page
// or the API still checks the session); /cached reads the cookie cache with the secret.
import { NextResponse, type NextRequest } from "next/server";
import { getSessionCookie } from "better-auth/cookies";

export function proxy(request: NextRequest) {
  if (!getSessionCookie(request)) {
    return NextResponse.redirect(new URL("/sign-in", request.url));
  }
  return NextResponse.next();
}

export const config = { matcher: ["/dashboard", "/cached"] };
