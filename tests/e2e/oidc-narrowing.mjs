// Narrowing in the oidc-server.mjs fixture: what oidc-provider needs to mint tokens with fewer
// rights than their grant, and a resource server that holds tokens to what they may do.
//
//   - Resource indicators (RFC 8707): one protected API, `https://contacts.example.test`, with the
//     scopes contacts.read and contacts.write. A refresh may ask for it with `resource` (and fewer
//     scopes with `scope`, RFC 6749 section 6).
//   - Rich authorization requests (RFC 9396): type `contacts_access` with `actions` read/write, for
//     the contacts API; a refresh's `authorization_details` are granted as asked.
//   - Token exchange (RFC 8693): an access token of the client exchanged for one with the same or
//     fewer scopes, optionally for the API.
//   - The API itself at /api/contacts: GET needs contacts.read, POST contacts.write; a token for
//     another audience is refused, and a token with authorization details is held to their actions.
//     It checks a token the way introspection does (the provider's own record of it).

import { errors } from 'oidc-provider';

export const CONTACTS_API = 'https://contacts.example.test';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const DETAIL_TYPES = ['contacts_access'];
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const RESOURCE_SERVERS = {
  [CONTACTS_API]: { scope: 'contacts.read contacts.write', audience: CONTACTS_API, accessTokenFormat: 'opaque' },
};

export const narrowingCounters = { token_exchanges: 0, narrowed_refresh_grants: 0, api_calls: 0, api_refusals: 0 };

function parseDetails(raw) {
  if (raw === undefined) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

// The `features` oidc-provider needs for all this.
export function narrowingFeatures() {
  return {
    resourceIndicators: {
      enabled: true,
      // Authorization details need a resource in oidc-provider: theirs is the contacts API.
      defaultResource: async (ctx, _client, oneOf) => oneOf ?? (ctx.oidc.params.authorization_details ? CONTACTS_API : undefined),
      useGrantedResource: async () => false,
      getResourceServerInfo: async (_ctx, indicator) => {
        const info = RESOURCE_SERVERS[indicator];
        if (!info) throw new errors.InvalidTarget();
        return info;
      },
    },
    richAuthorizationRequests: {
      enabled: true,
      types: {
        contacts_access: {
          validate: async (_ctx, detail) => {
            const actions = detail.actions ?? [];
            if (!Array.isArray(actions) || actions.length === 0 || actions.some((a) => a !== 'read' && a !== 'write')) {
              throw new errors.InvalidAuthorizationDetails('contacts_access actions are read and write');
            }
          },
        },
      },
      authorizationDetailsForGrantSource: async () => undefined,
      // Granted as asked (validated above); a token without a request for them carries none.
      authorizationDetailsForAccessToken: async (ctx) => parseDetails(ctx.oidc.params.authorization_details),
      authorizationDetailsForIntrospection: async (_ctx, token) => token.rar,
    },
  };
}

// The `rotateRefreshToken` policy: rotate on every use, after checking what RFC 8707 section 2.2
// asks of a refresh's `resource` (one the grant was authorized for, and only one). oidc-provider
// checks that only after it has rotated the refresh token, so a refused resource would spend the
// grant's only refresh token; this provider refuses first.
export async function rotateRefreshToken(ctx) {
  const { resource } = ctx.oidc.params;
  const token = ctx.oidc.entities.RefreshToken;
  if (resource !== undefined && (Array.isArray(resource) || !token?.resourceIndicators?.has(resource))) {
    throw new errors.InvalidTarget('the refresh token was not authorized for this resource');
  }
  return true;
}

// Counts refreshes that asked for less than the grant.
export function countNarrowedRefresh(ctx) {
  const { params } = ctx.oidc;
  if (params.grant_type === 'refresh_token' && (params.scope || params.resource || params.authorization_details)) {
    narrowingCounters.narrowed_refresh_grants += 1;
  }
}

// RFC 8693 for the test clients: the subject token is one of the client's live access tokens.
export function registerTokenExchange(provider) {
  const handler = async (ctx) => {
    const { params, client } = ctx.oidc;
    if (params.subject_token_type !== ACCESS_TOKEN_TYPE) throw new errors.InvalidRequest('subject_token_type must be an access token');
    const subject = await provider.AccessToken.find(params.subject_token);
    if (!subject || subject.isExpired || subject.clientId !== client.clientId) throw new errors.InvalidGrant('subject_token is not active');
    const held = new Set((subject.scope ?? '').split(' ').filter(Boolean));
    const asked = params.scope ? params.scope.split(' ') : [...held];
    const missing = asked.filter((s) => !held.has(s));
    if (missing.length) throw new errors.InvalidScope('the subject token does not hold these scopes', missing.join(' '));
    const at = new provider.AccessToken({
      accountId: subject.accountId, client, grantId: subject.grantId, gty: 'token_exchange', expiresWithSession: false, scope: asked.join(' '),
    });
    const resource = Array.isArray(params.resource) ? params.resource[0] : params.resource;
    if (resource) {
      const info = RESOURCE_SERVERS[resource];
      if (!info) throw new errors.InvalidTarget();
      at.resourceServer = new provider.ResourceServer(resource, info);
      at.scope = asked.filter((s) => info.scope.split(' ').includes(s)).join(' ');
    }
    const value = await at.save();
    narrowingCounters.token_exchanges += 1;
    ctx.body = { access_token: value, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: at.expiration, scope: at.scope };
  };
  provider.registerGrantType(TOKEN_EXCHANGE, handler, ['subject_token', 'subject_token_type', 'requested_token_type', 'scope', 'resource', 'audience'], ['resource']);
}

function sendApi(res, status, body, challenge) {
  const headers = { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' };
  if (challenge) headers['WWW-Authenticate'] = `Bearer error="${challenge}"`;
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

// GET /api/contacts (contacts.read), POST /api/contacts (contacts.write).
export async function handleApi(provider, req, res, url) {
  if (url.pathname !== '/api/contacts' || !['GET', 'POST'].includes(req.method)) return sendApi(res, 404, { error: 'not_found' });
  narrowingCounters.api_calls += 1;
  const refuse = (status, challenge, why) => {
    narrowingCounters.api_refusals += 1;
    return sendApi(res, status, { error: challenge, reason: why }, challenge);
  };
  const value = (req.headers.authorization ?? '').replace(/^Bearer /, '');
  const token = value ? (await provider.AccessToken.find(value)) ?? (await provider.ClientCredentials.find(value)) : undefined;
  if (!token || token.isExpired) return refuse(401, 'invalid_token', 'not an active token');
  if (token.aud !== undefined && token.aud !== CONTACTS_API) return refuse(401, 'invalid_token', 'issued for another audience');
  const action = req.method === 'GET' ? 'read' : 'write';
  if (token.rar) {
    const allowed = token.rar.some((d) => d.type === 'contacts_access' && (d.actions ?? []).includes(action));
    if (!allowed) return refuse(403, 'insufficient_scope', `its authorization details do not allow ${action}`);
  } else if (!(token.scope ?? '').split(' ').includes(`contacts.${action}`)) {
    return refuse(403, 'insufficient_scope', `it lacks contacts.${action}`);
  }
  return sendApi(res, 200, { ok: true, action, scope: token.scope ?? '' });
}
