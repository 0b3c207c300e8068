#!/usr/bin/env node
// A real OAuth 2.0 / OpenID Connect authorization server for Latchkey's
// end-to-end tests, built on panva's oidc-provider. It listens on 127.0.0.1
// only and is meant to be spawned by a test process.
//
//   node oidc-server.mjs --port <n> --redirect-uri <uri> [--redirect-uri <uri2> ...]
//
// --port 0 picks a free port. When ready it prints exactly one JSON line to
// stdout:
//
//   {"issuer":"http://127.0.0.1:<port>","authorization_endpoint":"...",
//    "token_endpoint":"...","revocation_endpoint":"...","introspection_endpoint":"..."}
//
// and then runs until SIGTERM/SIGINT, or until its stdin (when stdin is a pipe
// or socket, as with a parent's piped stdin) reaches end-of-file, so it dies
// with the test process that spawned it. Nothing else is written to stdout.
//
// Clients (both client_secret_basic, authorization_code + refresh_token):
//   latchkey-browser / browser-secret  a person signs in and consents through
//                                      the HTML pages under /interaction/:uid
//   latchkey-auto    / auto-secret     no page: signs in as `login_hint`
//                                      (default "alice") and consents to every
//                                      requested scope automatically
//
// Test hooks (plain JSON):
//   GET  /test/tokens
//   POST /test/fail-token-endpoint?status=503&count=2[&error=temporarily_unavailable]
//
// Narrowing (oidc-narrowing.mjs): resource indicators for the API https://contacts.example.test,
// authorization details of type contacts_access, RFC 8693 token exchange, and that API itself at
// GET|POST /api/contacts, which refuses a token outside its scope, audience or details.
//
// Environment: OIDC_ACCESS_TOKEN_TTL (seconds, default 3600),
//              OIDC_GRANT_PER_AUTHORIZATION=1 (every authorization a grant of its own),
//              OIDC_REFRESH_TOKEN_TTL (seconds, default 14 days),
//              OIDC_SERVER_DEBUG=1 (log server errors and requests to stderr).

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { parseArgs } from 'node:util';

const DEBUG = process.env.OIDC_SERVER_DEBUG === '1';

// oidc-provider prints its development notices with console.info, which goes
// to stdout. stdout is reserved for the single ready line, so send every
// console.info/console.log to stderr instead.
console.info = (...args) => console.error(...args);
console.log = (...args) => console.error(...args);

// oidc-provider 9.x warns at import time that Node.js 20 is not a supported
// LTS line (it wants 22+). Everything this fixture uses works on Node 20.18+
// (the self-test checks it), so drop that one known line unless debugging.
// The import below is dynamic so that this filter is in place before it runs.
if (!DEBUG) {
  const warn = console.warn.bind(console);
  console.warn = (...args) => {
    if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
    warn(...args);
  };
}

const { default: Provider, errors: oidcErrors } = await import('oidc-provider');
const narrowing = await import('./oidc-narrowing.mjs');

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

function usage(message) {
  if (message) process.stderr.write(`oidc-server: ${message}\n`);
  process.stderr.write(
    'usage: node oidc-server.mjs --port <n> --redirect-uri <uri> [--redirect-uri <uri> ...]\n',
  );
  process.exit(2);
}

let cli;
try {
  cli = parseArgs({
    options: {
      port: { type: 'string' },
      'redirect-uri': { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  }).values;
} catch (err) {
  usage(err.message);
}
if (cli.help) usage();

const port = Number(cli.port ?? '0');
if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`invalid --port ${cli.port}`);

const redirectUris = cli['redirect-uri'] ?? [];
if (redirectUris.length === 0) usage('at least one --redirect-uri is required');
for (const uri of redirectUris) {
  try {
    new URL(uri); // eslint-disable-line no-new
  } catch {
    usage(`invalid --redirect-uri ${uri}`);
  }
}

function positiveIntFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) usage(`${name} must be a positive integer (seconds)`);
  return value;
}

const ACCESS_TOKEN_TTL = positiveIntFromEnv('OIDC_ACCESS_TOKEN_TTL', 3600);
const REFRESH_TOKEN_TTL = positiveIntFromEnv('OIDC_REFRESH_TOKEN_TTL', 14 * 24 * 60 * 60);
// With OIDC_GRANT_PER_AUTHORIZATION=1 every authorization by the auto client is a grant of its
// own, as at providers where a token's revocation ends only that token's grant; by default a
// second authorization in the same browser session extends the first grant, as at Google.
const GRANT_PER_AUTHORIZATION = process.env.OIDC_GRANT_PER_AUTHORIZATION === '1';

// ---------------------------------------------------------------------------
// In-memory adapter that also records every issued token value
// ---------------------------------------------------------------------------

const issued = {
  AccessToken: new Set(),
  RefreshToken: new Set(),
};
const counters = { refresh_grants: 0, refresh_grant_errors: 0, code_grants: 0, client_credentials_grants: 0, grants_revoked: 0 };

const store = new Map(); // key -> { payload, expiresAt }
const grantIndex = new Map(); // grantId -> Set(key)
const uidIndex = new Map(); // session uid -> id
const userCodeIndex = new Map(); // user code -> id

const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

class MemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(key, { payload, expiresAt });

    if (this.model in issued) {
      // Opaque tokens: the value handed to the client is the model's id (jti).
      issued[this.model].add(id);
    }
    if (GRANTABLE.has(this.model) && payload.grantId) {
      if (!grantIndex.has(payload.grantId)) grantIndex.set(payload.grantId, new Set());
      grantIndex.get(payload.grantId).add(key);
    }
    if (this.model === 'Session' && payload.uid) uidIndex.set(payload.uid, id);
    if (payload.userCode) userCodeIndex.set(payload.userCode, id);
  }

  async find(id) {
    if (id === undefined || id === null) return undefined;
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    return this.find(uidIndex.get(uid));
  }

  async findByUserCode(userCode) {
    return this.find(userCodeIndex.get(userCode));
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = nowSeconds();
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    const keys = grantIndex.get(grantId);
    if (!keys) return;
    for (const key of keys) store.delete(key);
    grantIndex.delete(grantId);
  }
}

// ---------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------

function account(accountId) {
  return {
    accountId,
    async claims(_use, _scope, _claims, _rejected) {
      return {
        sub: accountId,
        name: accountId,
        preferred_username: accountId,
        email: `${accountId}@example.test`,
        email_verified: true,
      };
    },
  };
}

// ---------------------------------------------------------------------------
// Provider
// ---------------------------------------------------------------------------

const SCOPES = ['openid', 'offline_access', 'profile', 'email', 'contacts.read', 'contacts.write'];

function client(clientId, clientSecret) {
  return {
    client_id: clientId,
    client_secret: clientSecret,
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token', narrowing.TOKEN_EXCHANGE],
    authorization_details_types: narrowing.DETAIL_TYPES,
    response_types: ['code'],
    redirect_uris: redirectUris,
  };
}

function escapeHtml(value) {
  return String(value)
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:sans-serif;max-width:28em;margin:2em auto;padding:0 1em}
input,button{font-size:1em;padding:.4em;margin:.2em 0}
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
${body}
</body>
</html>
`;
}

function buildProvider(issuer) {
  const configuration = {
    adapter: MemoryAdapter,
    clients: [
      client('latchkey-browser', 'browser-secret'),
      client('latchkey-auto', 'auto-secret'),
      // A service client for the client-credentials grant (no user, no redirect).
      {
        client_id: 'latchkey-service',
        client_secret: 'service-secret',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'contacts.read contacts.write',
      },
    ],
    jwks: {
      keys: [
        {
          ...crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
          kid: 'test-rs256',
          use: 'sig',
          alg: 'RS256',
        },
      ],
    },
    cookies: {
      keys: [crypto.randomBytes(32).toString('base64url')],
    },
    findAccount: async (_ctx, sub) => account(sub),
    scopes: SCOPES,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email', 'email_verified'],
    },
    pkce: {
      // Every authorization-code request must carry a PKCE challenge. This
      // version of oidc-provider only implements S256 (plain was removed), so
      // there is no `methods` option any more.
      required: () => true,
    },
    // Rotate on every use. A rotated (consumed) refresh token presented again
    // is refused with invalid_grant and its whole grant is revoked.
    rotateRefreshToken: narrowing.rotateRefreshToken,
    issueRefreshToken: async (_ctx, cl, code) => (
      cl.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access')
    ),
    ttl: {
      AccessToken: () => ACCESS_TOKEN_TTL,
      ClientCredentials: () => ACCESS_TOKEN_TTL,
      AuthorizationCode: () => 60,
      RefreshToken: () => REFRESH_TOKEN_TTL,
      IdToken: () => 3600,
      Interaction: () => 3600,
      Session: () => 14 * 24 * 60 * 60,
      Grant: () => 14 * 24 * 60 * 60,
    },
    features: {
      devInteractions: { enabled: false },
      revocation: {
        enabled: true,
        allowedPolicy: async (_ctx, cl, token) => token.clientId === cl.clientId,
      },
      introspection: {
        enabled: true,
        allowedPolicy: async () => true,
      },
      rpInitiatedLogout: { enabled: false },
      clientCredentials: { enabled: true },
      ...narrowing.narrowingFeatures(),
    },
    interactions: {
      url: async (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = page('Error', Object.entries(out)
        .map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: <span class="${escapeHtml(k)}">${escapeHtml(v)}</span></p>`)
        .join('\n'));
    },
  };

  const provider = new Provider(issuer, configuration);

  narrowing.registerTokenExchange(provider);
  provider.on('grant.success', (ctx) => {
    narrowing.countNarrowedRefresh(ctx);
    switch (ctx.oidc.params.grant_type) {
      case 'authorization_code':
        counters.code_grants += 1;
        break;
      case 'refresh_token':
        counters.refresh_grants += 1;
        break;
      case 'client_credentials':
        counters.client_credentials_grants += 1;
        break;
      default:
        break;
    }
  });

  // A refresh the provider refused: with rotation and reuse detection, a refresh token presented
  // twice lands here (and its whole grant is revoked).
  provider.on('grant.error', (ctx) => {
    if (ctx.oidc?.params?.grant_type === 'refresh_token') counters.refresh_grant_errors += 1;
  });
  provider.on('grant.revoked', () => {
    counters.grants_revoked += 1;
  });

  provider.on('server_error', (_ctx, err) => {
    console.error('oidc-server: server_error', err);
  });
  if (DEBUG) {
    for (const event of ['grant.error', 'authorization.error', 'introspection.error', 'revocation.error']) {
      provider.on(event, (_ctx, err) => console.error(`oidc-server: ${event}: ${err.message} ${err.error_description ?? ''}`));
    }
  }

  // OpenID Connect Core 11 says offline_access is honoured only together with
  // prompt=consent, and oidc-provider silently drops offline_access from the
  // requested scope otherwise (before issueRefreshToken is ever consulted).
  // Plain OAuth clients such as Latchkey do not send prompt=consent, so for a
  // GET authorization request that asks for offline_access we add `consent`
  // to `prompt` (unless prompt=none). The auto client consents anyway; the
  // browser client then always shows the consent page for offline access,
  // which is what the spec requires of a provider.
  const authorizationPath = provider.pathFor('authorization');
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === authorizationPath) {
      const query = new URLSearchParams(ctx.querystring);
      const scopes = (query.get('scope') ?? '').split(' ');
      const prompts = new Set((query.get('prompt') ?? '').split(' ').filter(Boolean));
      if (scopes.includes('offline_access') && !prompts.has('consent') && !prompts.has('none')) {
        prompts.add('consent');
        query.set('prompt', [...prompts].join(' '));
        ctx.querystring = query.toString();
      }
    }
    await next();
  });

  // Outage simulation: answer the next N token-endpoint requests with an error.
  const tokenPath = provider.pathFor('token');
  provider.use(async (ctx, next) => {
    if (ctx.path === tokenPath && tokenFailures.count > 0) {
      tokenFailures.count -= 1;
      ctx.status = tokenFailures.status;
      ctx.set('Cache-Control', 'no-store');
      ctx.body = {
        error: tokenFailures.error,
        error_description: `simulated token endpoint failure (HTTP ${tokenFailures.status})`,
      };
      return;
    }
    await next();
  });

  return provider;
}

const tokenFailures = { count: 0, status: 503, error: 'temporarily_unavailable' };

function defaultErrorFor(status) {
  if (status === 503) return 'temporarily_unavailable';
  if (status >= 500) return 'server_error';
  if (status === 401) return 'invalid_client';
  return 'invalid_request';
}

// ---------------------------------------------------------------------------
// Interaction pages (login + consent) and test hooks, plain node:http
// ---------------------------------------------------------------------------

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

function sendHtml(res, status, html) {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
  });
  res.end(html);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function requestedClaims(params) {
  // Claim names asked for through the `claims` authorization parameter.
  if (typeof params.claims !== 'string') return [];
  try {
    const parsed = JSON.parse(params.claims);
    return [...new Set([
      ...Object.keys(parsed.userinfo ?? {}),
      ...Object.keys(parsed.id_token ?? {}),
    ])];
  } catch {
    return [];
  }
}

// Creates (or extends) the Grant for this interaction. With `everything`,
// grants every requested scope and claim (used by the auto client, also when
// login and consent are answered in one step); otherwise grants what the
// consent prompt reports as missing.
async function saveGrant(provider, details, accountId, { everything }) {
  const { grantId, params, prompt } = details;
  let grant;
  if (grantId) {
    grant = await provider.Grant.find(grantId);
  }
  if (!grant) {
    grant = new provider.Grant({ accountId, clientId: params.client_id });
  }

  if (everything) {
    if (params.scope) grant.addOIDCScope(params.scope);
    const claims = requestedClaims(params);
    if (claims.length) grant.addOIDCClaims(claims);
  }
  const missing = prompt.details ?? {};
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  if (missing.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  return grant.save();
}

function loginPage(uid, clientId, error) {
  return page('Sign in', `
<p>Sign in to continue to <strong>${escapeHtml(clientId)}</strong>.</p>
${error ? `<p class="error" id="error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
  <label for="login">Account</label>
  <input name="login" id="login" type="text" autofocus required>
  <button type="submit" id="sign-in">Sign in</button>
</form>`);
}

function consentPage(uid, clientId, accountId, scopes) {
  const items = scopes.map((s) => `  <li class="scope" data-scope="${escapeHtml(s)}">${escapeHtml(s)}</li>`).join('\n');
  return page('Authorize', `
<p>Signed in as <strong id="account">${escapeHtml(accountId)}</strong>.</p>
<p><strong>${escapeHtml(clientId)}</strong> is requesting access to:</p>
<ul id="scopes">
${items}
</ul>
<form method="post" action="/interaction/${escapeHtml(uid)}/confirm">
  <button type="submit" id="approve">Allow</button>
  <button type="submit" id="deny" name="deny" value="1">Deny</button>
</form>`);
}

async function handleInteraction(provider, req, res, url) {
  const match = /^\/interaction\/([^/]+)(?:\/(login|confirm))?\/?$/.exec(url.pathname);
  if (!match) return sendHtml(res, 404, page('Not found', '<p>No such interaction route.</p>'));
  const [, uid, action] = match;

  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    if (err instanceof oidcErrors.SessionNotFound) {
      return sendHtml(res, 400, page('Error', `<p>${escapeHtml(err.error_description ?? err.message)}</p>`));
    }
    throw err;
  }
  if (details.uid !== uid) {
    return sendHtml(res, 400, page('Error', '<p>interaction mismatch</p>'));
  }

  const { prompt, params, session } = details;
  const clientId = params.client_id;

  if (req.method === 'GET' && !action) {
    if (clientId === 'latchkey-auto') {
      const accountId = (typeof params.login_hint === 'string' && params.login_hint) || session?.accountId || 'alice';
      const result = {};
      if (prompt.name === 'login') {
        result.login = { accountId };
      }
      const grantAccount = result.login?.accountId ?? session?.accountId ?? accountId;
      const fresh = GRANT_PER_AUTHORIZATION ? { ...details, grantId: undefined } : details;
      const grantId = await saveGrant(provider, fresh, grantAccount, { everything: true });
      result.consent = { grantId };
      return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
    }

    if (prompt.name === 'login') {
      return sendHtml(res, 200, loginPage(uid, clientId));
    }
    if (prompt.name === 'consent') {
      const scopes = [...new Set([
        ...(prompt.details.missingOIDCScope ?? []),
        ...Object.values(prompt.details.missingResourceScopes ?? {}).flat(),
      ])];
      if (scopes.length === 0 && params.scope) scopes.push(...params.scope.split(' '));
      return sendHtml(res, 200, consentPage(uid, clientId, session?.accountId ?? '', scopes));
    }
    return sendHtml(res, 400, page('Error', `<p>unsupported prompt ${escapeHtml(prompt.name)}</p>`));
  }

  if (req.method === 'POST' && action === 'login') {
    if (prompt.name !== 'login') return sendHtml(res, 400, page('Error', '<p>login not expected</p>'));
    const form = await readForm(req);
    const login = (form.get('login') ?? '').trim();
    if (!login) return sendHtml(res, 200, loginPage(uid, clientId, 'Enter an account name.'));
    return provider.interactionFinished(req, res, { login: { accountId: login } }, { mergeWithLastSubmission: false });
  }

  if (req.method === 'POST' && action === 'confirm') {
    if (prompt.name !== 'consent') return sendHtml(res, 400, page('Error', '<p>consent not expected</p>'));
    const form = await readForm(req);
    if (form.get('deny')) {
      return provider.interactionFinished(req, res, {
        error: 'access_denied',
        error_description: 'The user denied access',
      }, { mergeWithLastSubmission: false });
    }
    const grantId = await saveGrant(provider, details, session.accountId, { everything: false });
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }

  res.writeHead(405, { Allow: action ? 'POST' : 'GET' });
  return res.end();
}

async function handleTestHook(req, res, url) {
  if (url.pathname === '/test/tokens') {
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method_not_allowed' });
    return sendJson(res, 200, {
      access_tokens: [...issued.AccessToken],
      refresh_tokens: [...issued.RefreshToken],
      refresh_grants: counters.refresh_grants,
      refresh_grant_errors: counters.refresh_grant_errors,
      grants_revoked: counters.grants_revoked,
      code_grants: counters.code_grants,
      client_credentials_grants: counters.client_credentials_grants,
      ...narrowing.narrowingCounters,
    });
  }
  if (url.pathname === '/test/fail-token-endpoint') {
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'method_not_allowed' });
    const status = Number(url.searchParams.get('status') ?? '503');
    const count = Number(url.searchParams.get('count') ?? '1');
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'status must be 400-599' });
    }
    if (!Number.isInteger(count) || count < 0) {
      return sendJson(res, 400, { error: 'invalid_request', error_description: 'count must be >= 0' });
    }
    tokenFailures.status = status;
    tokenFailures.count = count;
    tokenFailures.error = url.searchParams.get('error') || defaultErrorFor(status);
    return sendJson(res, 200, { ...tokenFailures });
  }
  return sendJson(res, 404, { error: 'not_found' });
}

// ---------------------------------------------------------------------------
// Startup
// ---------------------------------------------------------------------------

let handler = (_req, res) => {
  res.writeHead(503);
  res.end();
};
const server = http.createServer((req, res) => handler(req, res));
server.keepAliveTimeout = 5000;

await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', () => {
    server.off('error', reject);
    resolve();
  });
}).catch((err) => {
  process.stderr.write(`oidc-server: cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
  process.exit(1);
});

const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = buildProvider(issuer);
const providerCallback = provider.callback();

handler = (req, res) => {
  const url = new URL(req.url, issuer);
  if (DEBUG) console.error(`oidc-server: ${req.method} ${url.pathname}`);
  let work;
  if (url.pathname.startsWith('/interaction/')) {
    work = handleInteraction(provider, req, res, url);
  } else if (url.pathname.startsWith('/api/')) {
    work = narrowing.handleApi(provider, req, res, url);
  } else if (url.pathname.startsWith('/test/')) {
    work = handleTestHook(req, res, url);
  } else {
    return providerCallback(req, res);
  }
  return work.catch((err) => {
    console.error('oidc-server: interaction error', err);
    if (!res.headersSent) sendHtml(res, 500, page('Error', '<p>internal error</p>'));
    else res.end();
  });
};

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

// Die with the parent: when stdin is a pipe or socket (e.g. Rust's
// Stdio::piped()), its end-of-file means the parent is gone. A terminal or
// /dev/null stdin is ignored so the server can also be run by hand.
try {
  const stat = fs.fstatSync(0);
  if (stat.isFIFO() || stat.isSocket()) {
    process.stdin.on('end', shutdown);
    process.stdin.on('close', shutdown);
    process.stdin.on('error', shutdown);
    process.stdin.resume();
  }
} catch {
  // no stdin at all
}

process.stdout.write(`${JSON.stringify({
  issuer,
  authorization_endpoint: provider.urlFor('authorization'),
  token_endpoint: provider.urlFor('token'),
  revocation_endpoint: provider.urlFor('revocation'),
  introspection_endpoint: provider.urlFor('introspection'),
})}\n`);
