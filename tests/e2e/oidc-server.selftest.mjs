// Self-check for oidc-server.mjs:  node --test oidc-server.selftest.mjs
//
// Starts the server on port 0 and drives it with nothing but fetch, manual
// redirect following and a tiny cookie jar.

import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import { once } from 'node:events';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const SERVER = path.join(import.meta.dirname, 'oidc-server.mjs');

let child;
let ready;
let stderr = '';

before(async () => {
  child = spawn(process.execPath, [SERVER, '--port', '0', '--redirect-uri', REDIRECT_URI, '--redirect-uri', 'http://127.0.0.1:9/other'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => { stderr += chunk; });
  const lines = readline.createInterface({ input: child.stdout });
  const timeout = setTimeout(() => child.kill('SIGKILL'), 15000);
  const [line] = await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => { throw new Error(`server exited before ready: ${stderr}`); }),
  ]);
  clearTimeout(timeout);
  ready = JSON.parse(line);
  // Anything more on stdout would be a bug: it must carry only the ready line.
  lines.on('line', (extra) => { throw new Error(`unexpected stdout line: ${extra}`); });
});

after(async () => {
  if (stderr.trim()) process.stderr.write(`--- oidc-server stderr ---\n${stderr}\n`);
  if (child && child.exitCode === null) {
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.equal(code, 0, `server exit code (signal ${signal})`);
  }
});

// --- helpers --------------------------------------------------------------

class CookieJar {
  #cookies = new Map(); // name -> { value, path }

  store(response) {
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      let cookiePath = '/';
      let expired = value === '';
      for (const attr of attrs) {
        const [k, v = ''] = attr.split('=');
        const key = k.toLowerCase();
        if (key === 'path') cookiePath = v;
        if (key === 'max-age' && Number(v) <= 0) expired = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) expired = true;
      }
      const id = `${name};${cookiePath}`;
      if (expired) this.#cookies.delete(id);
      else this.#cookies.set(id, { name, value, path: cookiePath });
    }
  }

  header(url) {
    const { pathname } = new URL(url);
    return [...this.#cookies.values()]
      .filter((c) => pathname === c.path || pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }
}

// Follows redirects by hand until one points at the client's redirect URI;
// returns that final Location as a URL. `onPage` may answer HTML pages.
async function followToRedirectUri(startUrl, jar, { onPage, redirectUri = REDIRECT_URI } = {}) {
  let url = startUrl;
  let init = { method: 'GET' };
  for (let hops = 0; hops < 20; hops += 1) {
    const headers = { ...(init.headers ?? {}) };
    const cookie = jar.header(url);
    if (cookie) headers.cookie = cookie;
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    jar.store(res);
    if (res.status >= 300 && res.status < 400) {
      await res.arrayBuffer();
      const location = new URL(res.headers.get('location'), url);
      if (location.href.startsWith(redirectUri)) return location;
      url = location.href;
      init = { method: 'GET' };
      continue;
    }
    const body = await res.text();
    if (!onPage) throw new Error(`unexpected ${res.status} at ${url}: ${body.slice(0, 500)}`);
    const next = await onPage(url, res, body);
    url = new URL(next.url, url).href;
    init = next.init;
  }
  throw new Error('too many redirects');
}

function pkce() {
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

function authorizeUrl(params) {
  const url = new URL(ready.authorization_endpoint);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}

function basic(id, secret) {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

async function post(url, form, auth = basic('latchkey-auto', 'auto-secret')) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}

async function testTokens() {
  const res = await fetch(`${ready.issuer}/test/tokens`);
  assert.equal(res.status, 200);
  return res.json();
}

// --- tests ----------------------------------------------------------------

test('ready line and discovery', async () => {
  assert.match(ready.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.deepEqual(Object.keys(ready), [
    'issuer', 'authorization_endpoint', 'token_endpoint', 'revocation_endpoint', 'introspection_endpoint',
  ]);
  const res = await fetch(`${ready.issuer}/.well-known/openid-configuration`);
  assert.equal(res.status, 200);
  const d = await res.json();
  assert.equal(d.issuer, ready.issuer);
  assert.equal(d.authorization_endpoint, ready.authorization_endpoint);
  assert.equal(d.token_endpoint, ready.token_endpoint);
  assert.equal(d.revocation_endpoint, ready.revocation_endpoint);
  assert.equal(d.introspection_endpoint, ready.introspection_endpoint);
  assert.equal(d.authorization_response_iss_parameter_supported, true);
  assert.deepEqual(d.code_challenge_methods_supported, ['S256']);
  for (const s of ['openid', 'offline_access', 'profile', 'email', 'contacts.read', 'contacts.write']) {
    assert.ok(d.scopes_supported.includes(s), `scope ${s} supported`);
  }
});

test('latchkey-auto: code + PKCE, refresh rotation, reuse detection, counters', async () => {
  const jar = new CookieJar();
  const { verifier, challenge } = pkce();
  const state = crypto.randomBytes(8).toString('hex');
  const scope = 'openid offline_access profile email contacts.read contacts.write';

  const cb = await followToRedirectUri(authorizeUrl({
    client_id: 'latchkey-auto',
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    login_hint: 'bob',
  }), jar);

  assert.equal(cb.searchParams.get('error'), null, cb.href);
  assert.equal(cb.searchParams.get('state'), state);
  assert.equal(cb.searchParams.get('iss'), ready.issuer, 'RFC 9207 iss parameter');
  const code = cb.searchParams.get('code');
  assert.ok(code);

  // A wrong code_verifier is refused.
  const bad = await post(ready.token_endpoint, {
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: pkce().verifier,
  });
  assert.equal(bad.status, 400);
  assert.equal(bad.json.error, 'invalid_grant');

  // A PKCE mismatch does not consume the code, so it can still be redeemed.
  const tok = await post(ready.token_endpoint, {
    grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier,
  });
  assert.equal(tok.status, 200, tok.text);
  assert.equal(tok.json.token_type, 'Bearer');
  assert.equal(tok.json.expires_in, 3600);
  assert.ok(tok.json.access_token);
  assert.ok(tok.json.refresh_token);
  assert.ok(tok.json.id_token);
  assert.deepEqual(new Set(tok.json.scope.split(' ')), new Set(scope.split(' ')));

  // Introspection of the opaque access token.
  const intro = await post(ready.introspection_endpoint, { token: tok.json.access_token });
  assert.equal(intro.status, 200);
  assert.equal(intro.json.active, true);
  assert.equal(intro.json.sub, 'bob');
  assert.equal(intro.json.client_id, 'latchkey-auto');

  // Refresh once: rotated.
  const ref = await post(ready.token_endpoint, { grant_type: 'refresh_token', refresh_token: tok.json.refresh_token });
  assert.equal(ref.status, 200, ref.text);
  assert.ok(ref.json.refresh_token);
  assert.notEqual(ref.json.refresh_token, tok.json.refresh_token);
  assert.notEqual(ref.json.access_token, tok.json.access_token);

  const counts = await testTokens();
  assert.equal(counts.code_grants, 1);
  assert.equal(counts.refresh_grants, 1);
  for (const at of [tok.json.access_token, ref.json.access_token]) assert.ok(counts.access_tokens.includes(at));
  for (const rt of [tok.json.refresh_token, ref.json.refresh_token]) assert.ok(counts.refresh_tokens.includes(rt));

  // Reuse of the rotated refresh token is refused, and revokes the grant.
  const reuse = await post(ready.token_endpoint, { grant_type: 'refresh_token', refresh_token: tok.json.refresh_token });
  assert.equal(reuse.status, 400);
  assert.equal(reuse.json.error, 'invalid_grant');
  const afterReuse = await post(ready.token_endpoint, { grant_type: 'refresh_token', refresh_token: ref.json.refresh_token });
  assert.equal(afterReuse.status, 400);
  assert.equal(afterReuse.json.error, 'invalid_grant');

  const counts2 = await testTokens();
  assert.equal(counts2.refresh_grants, 1, 'failed refreshes are not counted');
  assert.equal(counts2.code_grants, 1);
});

test('PKCE is required', async () => {
  const cb = await followToRedirectUri(authorizeUrl({
    client_id: 'latchkey-auto',
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state: 's',
  }), new CookieJar());
  assert.equal(cb.searchParams.get('error'), 'invalid_request');
  assert.equal(cb.searchParams.get('iss'), ready.issuer);
});

test('offline_access without openid still yields a refresh token; second redirect URI; revocation', async () => {
  const other = 'http://127.0.0.1:9/other';
  const { verifier, challenge } = pkce();
  const loc = await followToRedirectUri(authorizeUrl({
    client_id: 'latchkey-auto',
    response_type: 'code',
    redirect_uri: other,
    scope: 'offline_access contacts.read',
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }), new CookieJar(), { redirectUri: other });
  assert.equal(loc.searchParams.get('iss'), ready.issuer);
  const tok = await post(ready.token_endpoint, {
    grant_type: 'authorization_code', code: loc.searchParams.get('code'), redirect_uri: other, code_verifier: verifier,
  });
  assert.equal(tok.status, 200, tok.text);
  assert.ok(tok.json.refresh_token, 'refresh token issued for offline_access without prompt=consent');
  assert.equal(tok.json.id_token, undefined);
  assert.deepEqual(new Set(tok.json.scope.split(' ')), new Set(['offline_access', 'contacts.read']));

  const rev = await post(ready.revocation_endpoint, { token: tok.json.refresh_token, token_type_hint: 'refresh_token' });
  assert.equal(rev.status, 200, rev.text);
  const after = await post(ready.token_endpoint, { grant_type: 'refresh_token', refresh_token: tok.json.refresh_token });
  assert.equal(after.json.error, 'invalid_grant');
});

test('latchkey-browser: login page, consent page, deny -> access_denied; allow -> code', async () => {
  async function run(decision) {
    const jar = new CookieJar();
    const { challenge } = pkce();
    const seen = [];
    const cb = await followToRedirectUri(authorizeUrl({
      client_id: 'latchkey-browser',
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid offline_access contacts.read',
      state: decision,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }), jar, {
      async onPage(pageUrl, res, body) {
        assert.equal(res.status, 200, body);
        const action = /<form method="post" action="([^"]+)"/.exec(body)[1];
        const headers = { 'content-type': 'application/x-www-form-urlencoded' };
        if (body.includes('id="sign-in"')) {
          assert.ok(body.includes('<input name="login" id="login"'));
          seen.push('login');
          return { url: action, init: { method: 'POST', headers, body: 'login=carol' } };
        }
        assert.ok(body.includes('id="approve"') && body.includes('id="deny"'));
        assert.ok(body.includes('contacts.read') && body.includes('offline_access'));
        seen.push('consent');
        return { url: action, init: { method: 'POST', headers, body: decision === 'deny' ? 'deny=1' : '' } };
      },
    });
    assert.deepEqual(seen, ['login', 'consent']);
    assert.equal(cb.searchParams.get('state'), decision);
    assert.equal(cb.searchParams.get('iss'), ready.issuer);
    return cb;
  }

  const denied = await run('deny');
  assert.equal(denied.searchParams.get('error'), 'access_denied');
  assert.equal(denied.searchParams.get('error_description'), 'The user denied access');

  const allowed = await run('allow');
  assert.equal(allowed.searchParams.get('error'), null);
  assert.ok(allowed.searchParams.get('code'));
});

test('fail-token-endpoint hook', async () => {
  const res = await fetch(`${ready.issuer}/test/fail-token-endpoint?status=503&count=2`, { method: 'POST' });
  assert.equal(res.status, 200);
  for (let i = 0; i < 2; i += 1) {
    const r = await post(ready.token_endpoint, { grant_type: 'refresh_token', refresh_token: 'nope' });
    assert.equal(r.status, 503);
    assert.equal(r.json.error, 'temporarily_unavailable');
  }
  const r = await post(ready.token_endpoint, { grant_type: 'refresh_token', refresh_token: 'nope' });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
});
