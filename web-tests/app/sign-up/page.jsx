"use client";
import Link from "next/link";
import { useState } from "react";
import { useAuth } from "../../lib/auth-client";

export default function SignUp() {
  const { authClient } = useAuth();
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function onSubmit(event) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    setError("");
    const { error } = await authClient.signUp.email({
      name: form.get("name"),
      email: form.get("email"),
      password: form.get("password"),
    });
    setBusy(false);
    if (error) setError(error.message || "Sign-up failed");
    // A full navigation: the dashboard then reads the new session on mount, with no window
    // in which the client still holds the signed-out state.
    else window.location.assign("/dashboard");
  }

  return (
    <main>
      <h1>Create an account</h1>
      <form onSubmit={onSubmit}>
        <p><label>Name <input name="name" required /></label></p>
        <p><label>Email <input name="email" type="email" required /></label></p>
        <p><label>Password <input name="password" type="password" required minLength={8} /></label></p>
        <button type="submit" disabled={busy}>Sign up</button>
      </form>
      {error && <p role="alert" data-testid="form-error" style={{ color: "crimson" }}>{error}</p>}
      <p>Have an account? <Link href="/sign-in">Sign in</Link></p>
    </main>
  );
}
