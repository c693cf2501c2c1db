import Link from "next/link";

export default function Home() {
  return (
    <main>
      <h1>better-auth-server demo</h1>
      <p>
        <Link href="/sign-up">Create an account</Link> · <Link href="/sign-in">Sign in</Link> ·{" "}
        <Link href="/dashboard">Dashboard</Link>
      </p>
    </main>
  );
}
