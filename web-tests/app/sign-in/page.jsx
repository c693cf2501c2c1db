"use client";
import Link from "next/link";
import { useAuth } from "../../lib/auth-client";
import { useAuthForm } from "../../lib/use-auth-form";

export default function SignIn() {
  const { authClient } = useAuth();
  const { error, busy, onSubmit } = useAuthForm(({ email, password }) =>
    authClient.signIn.email({ email, password }),
  );

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
        New here? <Link href="/sign-up">Create an account</Link> ·{" "}
        <Link href="/sign-in/username">Sign in with a username</Link>
      </p>
    </main>
  );
}
