"use client";
// The unmodified Better Auth React client with the jwt, username, multi-session, anonymous
// and last-login-method client plugins (the servers run those plugins). `baseURL` is the
// auth server's origin (setup a, cross-origin) or undefined, which makes the client use
// this page's origin and the /api/auth rewrite (setup b, same origin).
import { createAuthClient } from "better-auth/react";
import {
  anonymousClient,
  jwtClient,
  lastLoginMethodClient,
  multiSessionClient,
  usernameClient,
} from "better-auth/client/plugins";
import { createContext, useContext, useMemo } from "react";

const AuthContext = createContext(null);

export function AuthProvider({ authUrl, apiUrl, children }) {
  const value = useMemo(
    () => ({
      authClient: createAuthClient({
        baseURL: authUrl || undefined,
        plugins: [
          jwtClient(),
          usernameClient(),
          multiSessionClient(),
          anonymousClient(),
          lastLoginMethodClient(),
        ],
      }),
      apiUrl,
    }),
    [authUrl, apiUrl],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth() {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
