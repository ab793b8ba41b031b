// Fixed secrets for the test runtime only (never used elsewhere). The session key is a P-256 JWK
// generated once for the tests.
export const testSecrets = {
  JWT_SECRET: 'test-jwt-secret-0123456789abcdef0123456789abcdef',
  COUCHSUITE_USERNAME_SECRET: 'test-username-secret-0123456789abcdef',
  SESSION_SIGNING_KEY: JSON.stringify({
    kty: 'EC',
    crv: 'P-256',
    kid: 'test-1',
    x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
    y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
    d: 'jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI',
  }),
  STEAM_API_KEY: 'test-steam-key',
  OVERSEER_TOKEN: 'test-overseer-token-0123456789abcdef',
};
