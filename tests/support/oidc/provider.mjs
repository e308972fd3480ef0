// A real OpenID Connect provider (panva/oidc-provider, OpenID Certified) on loopback, for the worklist's
// login tests. Its development sign-in form accepts any login and password; the login becomes the `sub`
// and the name claim. PKCE is required of every client, so a relying party that does not send it fails.
//
//   node provider.mjs   with OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma-separated)
//
// Machine clients for the notifier's OAuth2 tests, each registered only when its variables are set:
//   OIDC_CC_CLIENT_ID, OIDC_CC_CLIENT_SECRET [, OIDC_CC_AUTH_METHOD]   client credentials (RFC 6749 4.4) with a
//       shared secret, client_secret_basic unless the method says client_secret_post
//   OIDC_SMART_CLIENT_ID, OIDC_SMART_JWKS [, OIDC_SMART_ALG]           SMART Backend Services: private_key_jwt
//       (RFC 7523) checked against the public keys in OIDC_SMART_JWKS (a JWKS as JSON), RS384 unless ES384
//   OIDC_RESOURCE [, OIDC_RESOURCE_SCOPE, OIDC_ACCESS_TOKEN_TTL]       the resource server (a FHIR base URL) their
//       access tokens are for: JWT access tokens (RFC 9068) with that audience, signed with the provider's keys
//       (/jwks), granting the scopes it lists (space-separated), valid for the TTL in seconds (default 600)
//
// intake, as the resource server clinicians' tokens are for, registered only when its variable is set:
//   OIDC_API_RESOURCE [, OIDC_API_TOKEN_TTL]   the worklist client's login may ask for it (resource indicator,
//       RFC 8707): a JWT access token (RFC 9068) with that audience, signed RS256 with the provider's keys,
//       valid for the TTL in seconds (default 3600), carrying the account's name and carepath_roles. The
//       roles come from the login: the part before the first '.', roles joined by '+' (acute_oncology.jones
//       -> [acute_oncology]; consultant+on_call_registrar.patel -> both; dr.who -> [dr], no carepath role).
import Provider, { errors } from 'oidc-provider';

const port = Number(process.env.OIDC_PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.OIDC_CLIENT_ID || 'carepath-worklist';

const machineClients = [];
if (process.env.OIDC_CC_CLIENT_ID) {
  machineClients.push({
    client_id: process.env.OIDC_CC_CLIENT_ID,
    client_secret: process.env.OIDC_CC_CLIENT_SECRET,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: process.env.OIDC_CC_AUTH_METHOD || 'client_secret_basic',
  });
}
if (process.env.OIDC_SMART_CLIENT_ID) {
  machineClients.push({
    client_id: process.env.OIDC_SMART_CLIENT_ID,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: process.env.OIDC_SMART_ALG || 'RS384',
    jwks: JSON.parse(process.env.OIDC_SMART_JWKS),
  });
}
const machineClientIds = new Set(machineClients.map((c) => c.client_id));
const resource = process.env.OIDC_RESOURCE;
const apiResource = process.env.OIDC_API_RESOURCE;
const rolesOf = (accountId) => String(accountId).split('.')[0].split('+').filter(Boolean);

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      client_secret: process.env.OIDC_CLIENT_SECRET || 'test-client-secret-at-least-32-chars',
      redirect_uris: (process.env.OIDC_REDIRECT_URIS || '').split(',').filter(Boolean),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
    ...machineClients,
  ],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: machineClients.length > 0 },
    resourceIndicators: {
      enabled: true,
      // A machine client that names no resource gets a token for the configured one (as a FHIR server's
      // authorization server does); the worklist's login is not affected.
      async defaultResource(ctx, client, oneOf) {
        if (oneOf) return oneOf;
        return resource && machineClientIds.has(client.clientId) ? resource : undefined;
      },
      async getResourceServerInfo(_ctx, indicator, client) {
        if (apiResource && indicator === apiResource && client.clientId === clientId) {
          return {
            scope: '',
            audience: apiResource,
            accessTokenFormat: 'jwt',
            accessTokenTTL: Number(process.env.OIDC_API_TOKEN_TTL || 3600),
            jwt: { sign: { alg: 'RS256' } },
          };
        }
        if (!resource || indicator !== resource || !machineClientIds.has(client.clientId)) {
          throw new errors.InvalidTarget();
        }
        return {
          scope: process.env.OIDC_RESOURCE_SCOPE || '',
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: Number(process.env.OIDC_ACCESS_TOKEN_TTL || 600),
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  enabledJWA: {
    clientAuthSigningAlgValues: ['HS256', 'RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA', 'RS384', 'ES384'],
  },
  claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
  // A clinician's access token for intake names who they are and their carepath roles; other tokens as before.
  async extraTokenClaims(_ctx, token) {
    if (!apiResource || !token.accountId || token.resourceServer?.audience !== apiResource) return undefined;
    return { name: token.accountId, carepath_roles: rolesOf(token.accountId) };
  },
  cookies: { keys: ['carepath-test-provider-cookie-key'] },
  async findAccount(_ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return { sub, name: sub, email: `${sub}@hospital.test` };
      },
    };
  },
  // Consent is the hospital's business, not the test's: the registered client is granted what it asks.
  async loadExistingGrant(ctx) {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid profile email');
    await grant.save();
    return grant;
  },
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening ${issuer}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
