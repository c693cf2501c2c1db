"use client";
// Sign in with the username plugin's `signIn.username`.
import Link from "next/link";
import { useAuth } from "../../../lib/auth-client";
import { useAuthForm } from "../../../lib/use-auth-form";

export default function SignInUsername() {
  const { authClient } = useAuth();
  const { error, busy, onSubmit } = useAuthForm(({ username, password }) =>
    authClient.signIn.username({ username, password }),
  );

  return (
    <main>
      <h1>Sign in with a username</h1>
      <form onSubmit={onSubmit}>
        <p><label>Username <input name="username" required /></label></p>
        <p><label>Password <input name="password" type="password" required /></label></p>
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
      {error && <p role="alert" data-testid="form-error" style={{ color: "crimson" }}>{error}</p>}
      <p><Link href="/sign-in">Sign in with an email</Link></p>
    </main>
  );
}
