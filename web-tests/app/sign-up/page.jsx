"use client";
import Link from "next/link";
import { useAuth } from "../../lib/auth-client";
import { useAuthForm } from "../../lib/use-auth-form";

export default function SignUp() {
  const { authClient } = useAuth();
  // The username is optional: without one the account signs in by email only.
  const { error, busy, onSubmit } = useAuthForm(({ name, email, password, username }) =>
    authClient.signUp.email({ name, email, password, ...(username ? { username } : {}) }),
  );

  return (
    <main>
      <h1>Create an account</h1>
      <form onSubmit={onSubmit}>
        <p><label>Name <input name="name" required /></label></p>
        <p><label>Email <input name="email" type="email" required /></label></p>
        <p><label>Username (optional) <input name="username" /></label></p>
        <p><label>Password <input name="password" type="password" required minLength={8} /></label></p>
        <button type="submit" disabled={busy}>Sign up</button>
      </form>
      {error && <p role="alert" data-testid="form-error" style={{ color: "crimson" }}>{error}</p>}
      <p>Have an account? <Link href="/sign-in">Sign in</Link></p>
    </main>
  );
}
