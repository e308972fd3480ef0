// A real OpenID Connect provider (panva/oidc-provider, OpenID Certified) on loopback, for the worklist's
// login tests. Its development sign-in form accepts any login and password; the login becomes the `sub`
// and the name claim. PKCE is required of every client, so a relying party that does not send it fails.
//
//   node provider.mjs   with OIDC_PORT, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URIS (comma-separated)
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT || 0);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.OIDC_CLIENT_ID || 'carepath-worklist';

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
  ],
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
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
