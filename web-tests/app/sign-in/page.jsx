"use client";
import Link from "next/link";
import { useState } from "react";
import { useAuth } from "../../lib/auth-client";

export default function SignIn() {
  const { authClient } = useAuth();
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function onSubmit(event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError("");
    const { error } = await authClient.signIn.email({
      email: form.get("email"),
      password: form.get("password"),
    });
    setBusy(false);
    if (error) setError(error.message || "Sign-in failed");
    // A full navigation: the dashboard then reads the new session on mount, with no window
    // in which the client still holds the signed-out state.
    else window.location.assign("/dashboard");
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
      <p>New here? <Link href="/sign-up">Create an account</Link></p>
    </main>
  );
}
