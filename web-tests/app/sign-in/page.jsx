"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { useAuth } from "../../lib/auth-client";
import { useAuthForm } from "../../lib/use-auth-form";

export default function SignIn() {
  const { authClient } = useAuth();
  const router = useRouter();
  const { error, busy, onSubmit } = useAuthForm(({ email, password }) =>
    authClient.signIn.email({ email, password }),
  );
  // The last-login-method plugin's readable cookie: which way this browser signed in last.
  const [lastUsed, setLastUsed] = useState(null);
  useEffect(() => setLastUsed(authClient.getLastUsedLoginMethod()), [authClient]);
  const [guestError, setGuestError] = useState("");

  // The anonymous plugin: a session for a guest user, upgraded later by signing up.
  async function continueAsGuest() {
    const { error: failed } = await authClient.signIn.anonymous();
    if (failed) return setGuestError(failed.message || "Could not continue as a guest");
    router.push("/dashboard");
  }

  return (
    <main>
      <h1>Sign in</h1>
      <form onSubmit={onSubmit}>
        <p><label>Email <input name="email" type="email" required /></label></p>
        <p><label>Password <input name="password" type="password" required /></label></p>
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
      {error && <p role="alert" data-testid="form-error" style={{ color: "crimson" }}>{error}</p>}
      <p>
        {/* The generic OpenID Connect provider configured on the server as "oidc". */}
        <button
          type="button"
          onClick={() =>
            authClient.signIn.social({
              provider: "oidc",
              callbackURL: `${window.location.origin}/dashboard`,
              errorCallbackURL: `${window.location.origin}/sign-in`,
            })
          }
        >
          Continue with OIDC
        </button>
      </p>
      <p>
        <button type="button" onClick={continueAsGuest}>Continue as a guest</button>
      </p>
      {guestError && <p role="alert" style={{ color: "crimson" }}>{guestError}</p>}
      {lastUsed && <p data-testid="last-used">Last used: {lastUsed}</p>}
      <p>
        New here? <Link href="/sign-up">Create an account</Link> ·{" "}
        <Link href="/sign-in/username">Sign in with a username</Link>
      </p>
    </main>
  );
}
