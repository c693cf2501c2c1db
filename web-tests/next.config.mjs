// Setup (b), same origin: /api/auth/* is rewritten to better-auth-server, so the browser
// only ever talks to this app's origin. AUTH_INTERNAL_URL is read when the app is built.
const authInternalUrl = process.env.AUTH_INTERNAL_URL || "http://127.0.0.1:3102";

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  async rewrites() {
    return [{ source: "/api/auth/:path*", destination: `${authInternalUrl}/api/auth/:path*` }];
  },
};

export default nextConfig;
