// Local OpenID Connect identity provider for the portal's development and test services.
//
//   PORT=9000 IDP_HOME=var/dev/idp node docker/oidc-provider/server.mjs
//
// Issuer http://127.0.0.1:$PORT, one confidential client `portal`, accounts read from
// $IDP_HOME/accounts.json on every lookup, a minimal login page of its own, consent granted
// automatically, and POST /__admin/rotate-keys to replace the signing key without a restart.
// Everything it makes at first start (keys, secrets, demo accounts) lives in $IDP_HOME, mode 0600.
// Not for production: sessions, codes and tokens live in memory and are lost on restart.
// Supports Node 20 (oidc-provider 9 prints an "Unsupported runtime" notice below Node 22).

import { createHash, generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import Provider from 'oidc-provider';

const PORT = Number.parseInt(process.env.PORT ?? '', 10);
const HOME = process.env.IDP_HOME;
if (!Number.isInteger(PORT) || PORT <= 0 || PORT > 65535 || !HOME) {
  console.error('usage: PORT=<port> IDP_HOME=<data dir> node server.mjs');
  process.exit(2);
}
const ISSUER = `http://127.0.0.1:${PORT}`;
const CLIENT_ID = 'portal';
const CALLBACK_PATH = '/accounts/oidc/callback/';
const SCOPES = ['openid', 'email', 'profile', 'groups'];

const files = {
  jwks: path.join(HOME, 'jwks.json'),
  clientSecret: path.join(HOME, 'client-secret'),
  adminToken: path.join(HOME, 'admin-token'),
  accounts: path.join(HOME, 'accounts.json'),
};

const log = (message) => console.log(`${new Date().toISOString()} ${message}`);

// ---------------------------------------------------------------- files made at first start

function writePrivate(file, text) {
  // Write next to the target and rename, so a reader never sees half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

function secretFile(file, what) {
  if (!fs.existsSync(file)) {
    writePrivate(file, `${randomBytes(32).toString('base64url')}\n`);
    log(`created ${what} in ${file}`);
  }
  const value = fs.readFileSync(file, 'utf8').trim();
  if (!value) throw new Error(`${file} is empty`);
  return value;
}

function newSigningKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };
}

function loadJwks() {
  if (!fs.existsSync(files.jwks)) {
    writePrivate(files.jwks, `${JSON.stringify({ keys: [newSigningKey()] }, null, 2)}\n`);
    log(`created a signing key in ${files.jwks}`);
  }
  const jwks = JSON.parse(fs.readFileSync(files.jwks, 'utf8'));
  if (!Array.isArray(jwks.keys) || !jwks.keys.length) throw new Error(`${files.jwks} holds no keys`);
  return jwks;
}

function ensureAccounts() {
  if (fs.existsSync(files.accounts)) return;
  const demo = { alice: ['Alice Example', ['Engineering']], bob: ['Bob Example', ['Finance']], carol: ['Carol Example', []] };
  const accounts = Object.fromEntries(Object.entries(demo).map(([login, [name, groups]]) => [
    login,
    { password: randomBytes(12).toString('base64url'), email: `${login}@example.com`, name, groups },
  ]));
  writePrivate(files.accounts, `${JSON.stringify(accounts, null, 2)}\n`);
  log(`created demo accounts ${Object.keys(accounts).join(', ')} in ${files.accounts} (passwords in the file)`);
}

// Tests rewrite accounts.json while we run: read it on every lookup, and retry briefly when a
// non-atomic writer leaves it half written.
async function readAccounts() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      const accounts = JSON.parse(fs.readFileSync(files.accounts, 'utf8'));
      if (accounts && typeof accounts === 'object' && !Array.isArray(accounts)) return accounts;
      throw new Error('accounts.json must hold an object keyed by login name');
    } catch (error) {
      if (attempt >= 10) throw error;
      await sleep(50);
    }
  }
}

async function findAccountRecord(login) {
  const accounts = await readAccounts();
  return Object.hasOwn(accounts, login) ? accounts[login] : undefined;
}

function sameSecret(given, expected) {
  const digest = (value) => createHash('sha256').update(String(value)).digest();
  return typeof given === 'string' && timingSafeEqual(digest(given), digest(expected));
}

// ---------------------------------------------------------------- storage

// oidc-provider 9 gives every Provider instance its own in-memory store. Key rotation builds a new
// instance, so sessions, interactions, codes and tokens live in one store the instances share.
const store = new Map();
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest']);

function storeGet(key) {
  const entry = store.get(key);
  if (entry && entry.expiresAt <= Date.now()) {
    store.delete(key);
    return undefined;
  }
  return entry?.value;
}

function storeSet(key, value, expiresIn) {
  const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
  store.set(key, { value, expiresAt });
  return expiresAt;
}

setInterval(() => {
  const now = Date.now();
  for (const [key, { expiresAt }] of store) if (expiresAt <= now) store.delete(key);
}, 60_000).unref();

class SharedMemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = storeSet(key, payload, expiresIn);
    if (this.model === 'Session') storeSet(`sessionUid:${payload.uid}`, id, expiresIn);
    if (payload.userCode) storeSet(`userCode:${payload.userCode}`, id, expiresIn);
    if (GRANTABLE.has(this.model) && payload.grantId) {
      const grantKey = `grant:${payload.grantId}`;
      const members = store.get(grantKey) ?? { value: new Set(), expiresAt: 0 };
      members.value.add(key);
      members.expiresAt = Math.max(members.expiresAt, expiresAt);
      store.set(grantKey, members);
    }
  }

  async find(id) {
    return storeGet(this.key(id));
  }

  async findByUid(uid) {
    const id = storeGet(`sessionUid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode) {
    const id = storeGet(`userCode:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id) {
    const payload = storeGet(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const grantKey = `grant:${grantId}`;
    for (const key of storeGet(grantKey) ?? []) store.delete(key);
    store.delete(grantKey);
  }
}

// ---------------------------------------------------------------- the provider

fs.mkdirSync(HOME, { recursive: true, mode: 0o700 });
const clientSecret = secretFile(files.clientSecret, 'the client secret');
secretFile(files.adminToken, 'the admin token');
ensureAccounts();
// Session and interaction cookies stay valid across key rotations (same keys, same process).
const cookieKeys = [randomBytes(32).toString('base64url')];

function isLocalCallback(value) {
  const url = URL.parse(value);
  if (!url || url.protocol !== 'http:' || url.pathname !== CALLBACK_PATH) return false;
  if (url.username || url.password || url.hash) return false;
  const host = url.hostname;
  return host === 'localhost' || host === '127.0.0.1' || host.endsWith('.localhost');
}

function buildProvider(jwks) {
  const configuration = {
    adapter: SharedMemoryAdapter,
    clients: [{
      client_id: CLIENT_ID,
      client_secret: clientSecret,
      // One concrete URI for registration; redirectUriAllowed below accepts every local callback.
      redirect_uris: [`http://localhost${CALLBACK_PATH}`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      // client_secret_post is accepted as well: oidc-provider treats the two as interchangeable.
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
      scope: SCOPES.join(' '),
    }],
    jwks,
    cookies: { keys: cookieKeys },
    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    // The claims of the granted scopes go into the ID token too, not only to userinfo.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    pkce: { required: () => true },
    // The token request must name the redirect_uri the code was issued for.
    allowOmittingSingleRegisteredRedirectUri: false,
    features: {
      devInteractions: { enabled: false },
      resourceIndicators: { enabled: false },
      userinfo: { enabled: true },
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    async findAccount(ctx, login) {
      if (!(await findAccountRecord(login))) return undefined;
      return {
        accountId: login,
        async claims() {
          const record = (await findAccountRecord(login)) ?? {};
          const claims = {
            sub: login,
            name: record.name ?? login,
            preferred_username: login,
            groups: Array.isArray(record.groups) ? record.groups.map(String) : [],
          };
          if (record.email) {
            claims.email = record.email;
            claims.email_verified = record.email_verified ?? true;
          }
          return claims;
        },
      };
    },
    // Consent is implied for the portal: grant every supported scope and the requested claims.
    async loadExistingGrant(ctx) {
      const { oidc } = ctx;
      const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
      let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
      if (oidc.client.clientId !== CLIENT_ID) return grant;
      if (!grant || grant.accountId !== oidc.account.accountId) {
        grant = new oidc.provider.Grant({ accountId: oidc.account.accountId, clientId: oidc.client.clientId });
      }
      grant.addOIDCScope([...new Set([...SCOPES, ...oidc.requestParamOIDCScopes])].join(' '));
      const claims = [...oidc.requestParamClaims];
      if (claims.length) grant.addOIDCClaims(claims);
      await grant.save();
      return grant;
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Error', `<h1>Sign-in error</h1><p>${escapeHtml(out.error)}: ${escapeHtml(out.error_description ?? '')}</p>`);
    },
  };

  const provider = new Provider(ISSUER, configuration);
  // Tests run the portal on random ports and on tenant hosts (demo.localhost:8000): accept every
  // http callback on a loopback host, whatever the port. Checked at /auth (and for error redirects);
  // the token endpoint still compares the redirect_uri with the one the code was issued for.
  provider.Client.prototype.redirectUriAllowed = isLocalCallback;
  provider.on('server_error', (ctx, error) => console.error('server_error', error));
  for (const event of ['authorization.error', 'grant.error', 'userinfo.error', 'introspection.error']) {
    provider.on(event, (ctx, error) => log(`${event}: ${error.error ?? error.name}: ${error.error_description ?? error.message}`));
  }
  return provider;
}

let jwks = loadJwks();
let provider = buildProvider(jwks);
let delegate = provider.callback();

// ---------------------------------------------------------------- login page

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function page(title, body) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:22rem;margin:4rem auto;padding:0 1rem}
label{display:block;margin:.75rem 0 .25rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.5rem 1rem}.error{color:#b00020}</style></head>
<body>${body}</body></html>`;
}

function loginPage(uid, { login = '', error = '' } = {}) {
  return page('Sign in', `<h1>Local identity provider</h1>
<p>Sign in to continue to the portal.</p>
${error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
<label for="login">User name</label>
<input id="login" name="login" value="${escapeHtml(login)}" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" required>
<button type="submit">Sign in</button>
</form>`);
}

function send(res, status, body = '', type = 'text/html; charset=utf-8') {
  res.statusCode = status;
  res.setHeader('Cache-Control', 'no-store');
  if (body) res.setHeader('Content-Type', type);
  res.end(body);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

async function handleInteraction(req, res, uid, action) {
  const current = provider;
  let details;
  try {
    details = await current.interactionDetails(req, res);
  } catch (error) {
    send(res, 400, page('Sign-in error', `<h1>Sign-in error</h1><p>${escapeHtml(error.error_description ?? error.message)}</p><p>Start again from the portal.</p>`));
    return;
  }
  if (details.uid !== uid) {
    send(res, 400, page('Sign-in error', '<h1>Sign-in error</h1><p>Interaction mismatch. Start again from the portal.</p>'));
    return;
  }
  const { prompt } = details;

  if (prompt.name === 'consent') {
    // Not reached for the portal (loadExistingGrant grants everything); kept for completeness.
    const grant = details.grantId
      ? await current.Grant.find(details.grantId)
      : new current.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope(SCOPES.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    await current.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    return;
  }

  if (action === undefined && req.method === 'GET') {
    send(res, 200, loginPage(uid, { login: details.params.login_hint ?? '' }));
    return;
  }
  if (action === 'login' && req.method === 'POST') {
    const form = await readForm(req);
    const login = (form.get('login') ?? '').trim();
    const password = form.get('password') ?? '';
    const record = login ? await findAccountRecord(login) : undefined;
    if (!record || typeof record.password !== 'string' || !sameSecret(password, record.password)) {
      log(`login failed for interaction ${uid}`);
      send(res, 200, loginPage(uid, { login, error: 'Wrong user name or password' }));
      return;
    }
    log(`login ${login}`);
    await current.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
    return;
  }
  send(res, 405, 'method not allowed', 'text/plain; charset=utf-8');
}

// ---------------------------------------------------------------- admin

async function rotateKeys() {
  const next = { keys: [newSigningKey()] };
  const nextProvider = buildProvider(next);
  writePrivate(files.jwks, `${JSON.stringify(next, null, 2)}\n`);
  jwks = next;
  provider = nextProvider;
  delegate = provider.callback();
  log(`signing key rotated, kid ${next.keys[0].kid}`);
}

async function handleAdmin(req, res, pathname) {
  if (pathname === '/__admin/health' && req.method === 'GET') {
    send(res, 200, JSON.stringify({ status: 'ok', issuer: ISSUER, kid: jwks.keys[0].kid }), 'application/json');
    return;
  }
  if (pathname === '/__admin/rotate-keys') {
    if (req.method !== 'POST') {
      send(res, 405, 'method not allowed', 'text/plain; charset=utf-8');
      return;
    }
    const expected = fs.readFileSync(files.adminToken, 'utf8').trim();
    if (!sameSecret(req.headers['x-admin-token'], expected)) {
      log('rotate-keys refused: wrong or missing X-Admin-Token');
      send(res, 403, 'forbidden', 'text/plain; charset=utf-8');
      return;
    }
    await rotateKeys();
    send(res, 204);
    return;
  }
  send(res, 404, 'not found', 'text/plain; charset=utf-8');
}

// ---------------------------------------------------------------- HTTP server

const server = http.createServer(async (req, res) => {
  const started = Date.now();
  const { pathname } = new URL(req.url, ISSUER);
  // Paths only: query strings carry codes and states, bodies carry secrets.
  res.on('finish', () => log(`${req.method} ${pathname} ${res.statusCode} ${Date.now() - started}ms`));
  try {
    if (pathname.startsWith('/__admin/')) {
      await handleAdmin(req, res, pathname);
      return;
    }
    const match = /^\/interaction\/([^/]+)(?:\/(login))?\/?$/.exec(pathname);
    if (match) {
      await handleInteraction(req, res, match[1], match[2]);
      return;
    }
    delegate(req, res);
  } catch (error) {
    console.error(`error handling ${req.method} ${pathname}:`, error);
    if (!res.headersSent) send(res, 500, 'internal error', 'text/plain; charset=utf-8');
    else res.end();
  }
});

server.listen(PORT, '127.0.0.1', () => {
  log(`oidc-provider listening, issuer ${ISSUER}, client ${CLIENT_ID}, signing kid ${jwks.keys[0].kid}, data ${HOME}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    log(`${signal}: shutting down`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
