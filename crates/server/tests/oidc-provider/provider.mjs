// A real OpenID Connect provider (node-oidc-provider) on loopback, for Tessera's tests
// only. Started by crates/server/tests/cli/oidc_provider.rs; never shipped.
//
// Environment:
//   PORT           port on 127.0.0.1 (0: any free port). The issuer is http://127.0.0.1:PORT.
//   CLIENTS_FILE   JSON array of client metadata (client_id, client_secret, redirect_uris, ...).
//   ACCOUNTS_FILE  JSON object: account id -> claims. The account id is what is typed in the
//                  development login form, and is the `sub`. Read again at every look-up,
//                  so a test can change the claims (groups, say) between two sign-ins.
//   JWKS_FILE      JSON Web Key Set with private keys. Generated (one RS256 key, its kid the
//                  key's thumbprint) when the file does not exist, so deleting it and
//                  starting again on the same port rotates the signing key.
//
// Prints `listening on http://127.0.0.1:PORT` on stdout once it accepts connections, and
// exits when its standard input closes (the test process that started it is gone).

import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK, calculateJwkThumbprint } from 'jose';

const env = (name) => {
  const value = process.env[name];
  if (value === undefined || value === '') {
    console.error(`provider.mjs: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const port = Number(process.env.PORT ?? '0');
const clientsFile = env('CLIENTS_FILE');
const accountsFile = env('ACCOUNTS_FILE');
const jwksFile = env('JWKS_FILE');

const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

async function signingKeys() {
  if (!existsSync(jwksFile)) {
    const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    const jwk = await exportJWK(privateKey);
    jwk.kid = await calculateJwkThumbprint(jwk);
    jwk.alg = 'RS256';
    jwk.use = 'sig';
    writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }, null, 2), { mode: 0o600 });
  }
  return readJson(jwksFile);
}

// Listen first: the issuer names the port, which may be chosen by the system.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: readJson(clientsFile),
  jwks: await signingKeys(),
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  async findAccount(_ctx, id) {
    const claims = readJson(accountsFile)[id];
    if (!claims) {
      return undefined;
    }
    return {
      accountId: id,
      // The provider sets `sub` to the account id itself.
      async claims() {
        return { ...claims, sub: id };
      },
    };
  },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'groups'],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'profile', 'email'],
  // The ID token carries the claims of the granted scopes (as most providers do), not only
  // the userinfo endpoint.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
  },
  // A first-party client: the scopes it asks for are granted without a consent page.
  async loadExistingGrant(ctx) {
    const { client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
    if (grantId) {
      const existing = await ctx.oidc.provider.Grant.find(grantId);
      if (existing) {
        return existing;
      }
    }
    const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope('openid profile email');
    grant.addOIDCClaims(['sub', 'name', 'preferred_username', 'groups', 'email', 'email_verified']);
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    const text = Object.entries(out).map(([k, v]) => `${k}: ${v}`).join('\n');
    ctx.body = `<!DOCTYPE html><title>oops</title><pre id="error">${text.replace(/[<&>]/g, '')}</pre>`;
  },
});

provider.on('server_error', (_ctx, err) => console.error('provider server_error:', err));
provider.on('grant.error', (_ctx, err) => console.error('provider grant.error:', err.message, err.error_description ?? ''));
provider.on('authorization.error', (_ctx, err) => console.error('provider authorization.error:', err.message, err.error_description ?? ''));

server.on('request', provider.callback());
console.log(`listening on ${issuer}`);

process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}
