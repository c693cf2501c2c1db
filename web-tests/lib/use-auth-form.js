"use client";
// The submit logic sign-in and sign-up share: run the Better Auth call with the form's
// fields, show its error message, or go to the dashboard.
import { useState } from "react";

export function useAuthForm(action) {
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  async function onSubmit(event) {
    event.preventDefault();
    const fields = Object.fromEntries(new FormData(event.currentTarget));
    setBusy(true);
    setError("");
    const { error } = await action(fields);
    setBusy(false);
    if (error) setError(error.message || "Something went wrong");
    // A full navigation: the dashboard then reads the new session on mount, with no window
    // in which the client still holds the signed-out state.
    else window.location.assign("/dashboard");
  }

  return { error, busy, onSubmit };
}
