import { AuthProvider } from "../lib/auth-client";

// Read at request time so that one build serves both setups.
export const dynamic = "force-dynamic";

export const metadata = { title: "better-auth-server demo" };

export default function RootLayout({ children }) {
  const authUrl = process.env.AUTH_PUBLIC_URL || "";
  const apiUrl = process.env.API_URL || "http://localhost:8000";
  return (
    <html lang="en">
      <body style={{ fontFamily: "system-ui, sans-serif", maxWidth: 560, margin: "3rem auto", padding: "0 1rem" }}>
        <AuthProvider authUrl={authUrl} apiUrl={apiUrl}>
          {children}
        </AuthProvider>
      </body>
    </html>
  );
}
