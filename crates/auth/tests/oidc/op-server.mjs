// A standalone OpenID Provider (oidc-provider with its development login and consent
// pages) for the browser tests: any login name signs in as <login>@example.com.
//
//   node op-server.mjs <port> <redirect_uri> [<redirect_uri>...]
import { generateKeyPairSync } from "node:crypto";
import Provider from "oidc-provider";

const [port, ...redirectUris] = process.argv.slice(2);
if (!port || !redirectUris.length) throw new Error("usage: op-server.mjs <port> <redirect_uri>...");
const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: "web-tests",
      client_secret: "web-tests-client-secret-0123456789",
      redirect_uris: redirectUris,
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
    },
  ],
  jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), kid: "web-op", alg: "RS256", use: "sig" }] },
  cookies: { keys: ["web-tests-op-cookie-key"] },
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.com`, email_verified: true, name: `OIDC ${id}` };
      },
    };
  },
});
provider.listen(Number(port), "127.0.0.1", () => console.log(`OP on http://127.0.0.1:${port}`));
