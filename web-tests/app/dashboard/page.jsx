"use client";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { useAuth } from "../../lib/auth-client";

export default function Dashboard() {
  const { authClient, apiUrl } = useAuth();
  const router = useRouter();
  const { data: session, isPending, isRefetching } = authClient.useSession();
  const [apiAnswer, setApiAnswer] = useState(null);
  const [apiError, setApiError] = useState("");
  // The multi-session plugin: every account signed in in this browser.
  const [accounts, setAccounts] = useState([]);
  useEffect(() => {
    if (!session) return;
    authClient.multiSession.listDeviceSessions().then(({ data }) => setAccounts(data || []));
  }, [session, authClient]);

  useEffect(() => {
    if (!isPending && !isRefetching && !session) router.replace("/sign-in");
  }, [isPending, isRefetching, session, router]);

  if (isPending || !session) return <main><p>Loading…</p></main>;

  async function callApi() {
    setApiError("");
    setApiAnswer(null);
    const { data, error } = await authClient.token();
    if (error) return setApiError(error.message || "Could not get a token");
    const response = await fetch(`${apiUrl}/api/me`, { headers: { Authorization: `Bearer ${data.token}` } });
    if (!response.ok) return setApiError(`API answered ${response.status}`);
    setApiAnswer(await response.json());
  }

  async function switchTo(sessionToken) {
    await authClient.multiSession.setActive({ sessionToken });
    window.location.assign("/dashboard");
  }

  async function signOut() {
    await authClient.signOut();
    router.push("/sign-in");
  }

  return (
    <main>
      <h1>Dashboard</h1>
      <p data-testid="welcome">Signed in as {session.user.name} ({session.user.email})</p>
      {session.user.isAnonymous && (
        <p data-testid="guest">
          You are a guest. <a href="/sign-up">Create an account</a> to keep what you did.
        </p>
      )}
      <p>User id: <code data-testid="user-id">{session.user.id}</code></p>
      <p>
        <button onClick={callApi}>Call the API with a JWT</button>{" "}
        <button onClick={signOut}>Sign out</button>
      </p>
      {apiAnswer && <p data-testid="api-answer">API says: user id {apiAnswer.sub}</p>}
      {apiError && <p role="alert" style={{ color: "crimson" }}>{apiError}</p>}
      <h2>Accounts in this browser</h2>
      <ul data-testid="accounts">
        {accounts.map(({ session: s, user }) => (
          <li key={s.token}>
            {user.username ? `@${user.username} ` : ""}
            {user.email}{" "}
            {s.token === session.session.token ? (
              <em>(active)</em>
            ) : (
              <button onClick={() => switchTo(s.token)}>Switch to {user.email}</button>
            )}
          </li>
        ))}
      </ul>
      <p><a href="/sign-up">Add another account</a></p>
    </main>
  );
}
