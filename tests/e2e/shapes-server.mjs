// Loopback stand-ins for provider APIs that cannot run here, answering in each provider's
// documented response shape and checking what a real provider checks (signatures, claims):
//
//   GitHub App installation tokens (docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app):
//     POST /app/installations/{id}/access_tokens  with  Authorization: Bearer <RS256 app JWT, iss = app id>
//     and optionally a JSON body {"repositories": ["name", ...], "permissions": {"contents": "read", ...}}
//     -> 201 {"token": "ghs_...", "expires_at": "...Z", "permissions": {...}, "repository_selection": "all" | "selected",
//             "repositories": [{"id", "name", "full_name": "acme/<name>", ...}] (when repositories were asked)}
//     -> 422 when the body names a repository the installation cannot reach (`not-installed`) or a
//        permission above what it was granted (contents and issues write, metadata read).
//   The JWT-bearer grant (RFC 7523):
//     POST /oauth/token  grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>
//
//   node shapes-server.mjs --port 0 --app-id 12345 --client-id svc@example.iam
//   -> {"base":"http://127.0.0.1:<port>"}
// GET /test/keys gives the private key PEM the test configures Latchkey with; GET /test/counts;
// POST /test/settings {"name": value} changes how the shapes below answer in this run (see `settings`).
import { createServer } from "node:http";
import { createHash, generateKeyPairSync, randomBytes, verify } from "node:crypto";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const appId = arg("app-id", "12345");
const clientId = arg("client-id", "svc@example.iam");
const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
const counts = { installation_tokens: 0, jwt_bearer_tokens: 0, refused: 0, last_installation_body: null };
// What the test installation was granted, and the account it is on.
const INSTALLED = { contents: "write", issues: "write", metadata: "read" };
const LEVELS = ["read", "write", "admin"];
let base = "";

function verifyJwt(jwt) {
  const [h, p, s] = (jwt || "").split(".");
  if (!s) return null;
  const header = JSON.parse(Buffer.from(h, "base64url"));
  if (header.alg !== "RS256") return null;
  const ok = verify("sha256", Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, "base64url"));
  return ok ? JSON.parse(Buffer.from(p, "base64url")) : null;
}

const now = () => Math.floor(Date.now() / 1000);

async function readBody(req) {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  return raw;
}

// Authorization-code providers in their documented token-response shapes. The authorize step
// approves at once; the token step checks the code, the redirect URI and the PKCE verifier.
const codes = new Map();
const refreshTokens = new Map(); // refresh token -> shape
// What a test may change: where Zoho's authorization response says the account lives, and which
// of the shapes Instagram's code exchange is known in (`documented`: the documentation's example,
// wrapped in a `data` list with `permissions` a comma-separated string; `live`: the unwrapped
// answer the endpoint is reported to give, `permissions` a list and `user_id` a number beyond 2^53;
// `flat`: unwrapped, `permissions` a comma-separated string).
const settings = { zoho_accounts_server: "https://accounts.zoho.eu", instagram_answer: "documented" };
// Instagram: the permissions asked for, less the one the person unticked on the consent screen.
const DECLINED_INSTAGRAM_PERMISSION = "instagram_business_manage_messages";
const INSTAGRAM_USER_ID = "27640875392278831";
const instagramAnswer = (grant) => {
  const permissions = (grant?.scope || "").split(",").filter((p) => p && p !== DECLINED_INSTAGRAM_PERMISSION);
  const token = `IGAA${randomBytes(12).toString("hex")}`;
  if (settings.instagram_answer === "documented") {
    return { data: [{ access_token: token, user_id: INSTAGRAM_USER_ID, permissions: permissions.join(",") }] };
  }
  if (settings.instagram_answer === "flat") return { access_token: token, user_id: INSTAGRAM_USER_ID, permissions: permissions.join(",") };
  // The number is written as it comes, not through a JavaScript number (which would round it).
  return { access_token: token, user_id: { raw: INSTAGRAM_USER_ID }, permissions };
};
const SHAPES = {
  // https://api.slack.com/methods/oauth.v2.access (with token rotation on)
  slack: () => ({
    ok: true, access_token: `xoxb-${randomBytes(8).toString("hex")}`, token_type: "bot", scope: "chat:write,channels:read",
    bot_user_id: "U0KRQLJ9H", app_id: "A0KRD7HC3", team: { name: "Slack Softball Team", id: "T9TK3CUKW" }, enterprise: null,
    is_enterprise_install: false, refresh_token: `xoxe-1-${randomBytes(8).toString("hex")}`, expires_in: 43200,
    authed_user: { id: "U1234", scope: "chat:write", access_token: `xoxp-${randomBytes(8).toString("hex")}`, token_type: "user" },
  }),
  // https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm (no expires_in)
  salesforce: () => ({
    access_token: `00Dxx0000001gPL!${randomBytes(8).toString("hex")}`, signature: "CMJ4l+CCaPQiKjoOEwEig9H4wqhpuLSk4J2urAe+fVg=",
    scope: "api refresh_token", instance_url: "https://acme.my.salesforce.com", id: "https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
    token_type: "Bearer", issued_at: String(Date.now()), refresh_token: `5Aep${randomBytes(8).toString("hex")}`,
  }),
  // https://developer.xero.com/documentation/guides/oauth2/auth-flow
  xero: () => ({ access_token: `xero.${randomBytes(8).toString("hex")}`, expires_in: 1800, token_type: "Bearer", refresh_token: `xr_${randomBytes(8).toString("hex")}`, scope: "openid accounting.transactions offline_access" }),
  // https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0
  quickbooks: () => ({ access_token: `qb.${randomBytes(8).toString("hex")}`, expires_in: 3600, token_type: "bearer", refresh_token: `AB11${randomBytes(8).toString("hex")}`, x_refresh_token_expires_in: 8726400 }),
  // https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/
  atlassian: () => ({ access_token: `at.${randomBytes(8).toString("hex")}`, expires_in: 3600, scope: "read:jira-work offline_access", token_type: "Bearer", refresh_token: `ar_${randomBytes(8).toString("hex")}` }),
  // https://www.zoho.com/accounts/protocol/oauth/web-apps/access-token.html (an EU account; the
  // authorization response carries `location` and `accounts-server` beside the code)
  "zoho-crm": () => ({
    access_token: `1000.${randomBytes(16).toString("hex")}.${randomBytes(16).toString("hex")}`, refresh_token: `1000.${randomBytes(16).toString("hex")}.${randomBytes(16).toString("hex")}`,
    scope: "ZohoCRM.modules.ALL ZohoCRM.settings.READ", api_domain: "https://www.zohoapis.eu", token_type: "Bearer", expires_in: 3600,
  }),
  // https://developers.asana.com/docs/oauth (the user who authorized, under `data`)
  asana: () => ({
    access_token: `2/1204${randomBytes(8).toString("hex")}`, expires_in: 3600, token_type: "bearer", refresh_token: `2/1204${randomBytes(8).toString("hex")}:r`,
    data: { id: 4673218951, gid: "4673218951", name: "Greg Sanchez", email: "gsanchez@example.com" },
  }),
  // https://developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/business-login
  // (the granted scope is `permissions`; no expires_in, no refresh token)
  instagram: instagramAnswer,
  // https://developers.docusign.com/platform/auth/authcode/authcode-get-token/
  docusign: () => ({ access_token: `eyJ0eXAi.${randomBytes(12).toString("hex")}`, token_type: "Bearer", refresh_token: `eyJ0eXAi.r${randomBytes(12).toString("hex")}`, expires_in: 28800 }),
  // https://mailchimp.com/developer/marketing/guides/access-user-data-oauth-2/ (a token that never
  // expires, `expires_in: 0`, and no refresh token)
  mailchimp: () => ({ access_token: randomBytes(16).toString("hex"), expires_in: 0, scope: null }),
};

function shapeRoute(req, url, send, res) {
  const [, shape, action] = url.pathname.split("/");
  if (!SHAPES[shape]) return false;
  if (req.method === "GET" && action === "authorize") {
    const code = randomBytes(12).toString("hex");
    codes.set(code, { shape, redirect_uri: url.searchParams.get("redirect_uri"), challenge: url.searchParams.get("code_challenge"), scope: url.searchParams.get("scope") });
    const back = new URL(url.searchParams.get("redirect_uri"));
    back.searchParams.set("code", code);
    back.searchParams.set("state", url.searchParams.get("state"));
    if (shape === "quickbooks") back.searchParams.set("realmId", "9130354517246556");
    if (shape === "zoho-crm") {
      back.searchParams.set("location", "eu");
      back.searchParams.set("accounts-server", settings.zoho_accounts_server);
    }
    res.writeHead(302, { location: back.toString() });
    res.end();
    return true;
  }
  return false;
}

const server = createServer(async (req, res) => {
  const send = (status, value) => {
    res.writeHead(status, { "content-type": "application/json" });
    // `{raw: "digits"}` is written as a bare JSON number, exactly.
    res.end(JSON.stringify(value, (_, v) => (v && typeof v === "object" && typeof v.raw === "string" && Object.keys(v).length === 1 ? `@@raw:${v.raw}@@` : v)).replace(/"@@raw:(\d+)@@"/g, "$1"));
  };
  const url = new URL(req.url, "http://127.0.0.1");
  if (shapeRoute(req, url, send, res)) return;
  const [, shape, action, extra] = url.pathname.split("/");
  if (SHAPES[shape] && req.method === "POST" && action === "token") {
    const form = new URLSearchParams(await readBody(req));
    if (form.get("grant_type") === "refresh_token") {
      if (refreshTokens.get(form.get("refresh_token")) !== shape) return send(400, { error: "invalid_grant" });
      const answer = SHAPES[shape]();
      // Salesforce, Zoho and Asana answer a refresh without a refresh token (they do not rotate);
      // Salesforce, as ever, without expires_in.
      if (["salesforce", "zoho-crm", "asana"].includes(shape)) delete answer.refresh_token;
      if (answer.refresh_token) refreshTokens.set(answer.refresh_token, shape);
      return send(200, answer);
    }
    const grant = codes.get(form.get("code"));
    codes.delete(form.get("code"));
    const verifierOk = !grant?.challenge || createHash("sha256").update(form.get("code_verifier") || "").digest("base64url") === grant.challenge;
    if (!grant || grant.shape !== shape || grant.redirect_uri !== form.get("redirect_uri") || !verifierOk) {
      return send(shape === "slack" ? 200 : 400, shape === "slack" ? { ok: false, error: "invalid_code" } : { error: "invalid_grant" });
    }
    const answer = SHAPES[shape](grant);
    if (answer.refresh_token) refreshTokens.set(answer.refresh_token, shape);
    return send(200, answer);
  }
  const bearer = (req.headers.authorization || "").startsWith("Bearer ");
  if (shape === "salesforce" && req.method === "POST" && action === "introspect") {
    const form = new URLSearchParams(await readBody(req));
    return send(200, { active: Boolean(form.get("token")), scope: "api refresh_token", client_id: form.get("client_id"), token_type: "access_token", exp: Math.floor(Date.now() / 1000) + 5000 });
  }
  if (shape === "xero" && req.method === "GET" && action === "connections" && bearer) {
    return send(200, [
      { id: "e1eede29-f875-4a5d-8470-17f6a29a88b1", authEventId: "d99ecdfe-391d-43d2-b834-17636ba90e8d", tenantId: "xero-tenant-1", tenantType: "ORGANISATION", tenantName: "Demo Company (NZ)", createdDateUtc: "2019-07-09T23:40:30.1833130", updatedDateUtc: "2020-05-15T01:35:13.8491980" },
      { id: "32587c85-a9b3-4306-ac30-b416e8f2c841", authEventId: "d0ddcf81-f942-4f4d-b3c7-f98045204db4", tenantId: "xero-tenant-2", tenantType: "ORGANISATION", tenantName: "Maple Florists Inc", createdDateUtc: "2019-07-09T23:40:30.1833130", updatedDateUtc: "2020-05-15T01:35:13.8491980" },
    ]);
  }
  // https://developers.docusign.com/platform/auth/reference/user-info/ (the account's base URI is
  // in the `accounts` list)
  if (shape === "docusign" && req.method === "GET" && action === "userinfo" && bearer) {
    return send(200, {
      sub: "4799e5e9-1559-4915-9862-cf4713bbcacc", name: "Susan Smart", given_name: "Susan", family_name: "Smart", created: "2015-08-13T22:03:03.45Z", email: "susan.smart@example.com",
      accounts: [{ account_id: "a4ec37d6-04a9-4f29-9c86-0d2d7b3d8f21", is_default: true, account_name: "Acme Agreements", base_uri: "https://demo.docusign.net" }],
    });
  }
  // https://mailchimp.com/developer/marketing/guides/access-user-data-oauth-2/ (the data centre;
  // the guide's example sends `Authorization: OAuth <token>`, a bearer token is taken here too)
  if (shape === "mailchimp" && req.method === "GET" && action === "metadata" && bearer) {
    return send(200, {
      dc: "us21", role: "owner", accountname: "Acme Florists", user_id: 8675309, login: { email: "owner@acme.example", avatar: null, login_id: 8675309, login_name: "acme", login_email: "owner@acme.example" },
      login_url: "https://login.mailchimp.com", api_endpoint: "https://us21.api.mailchimp.com",
    });
  }
  if (shape === "atlassian" && req.method === "GET" && action === "accessible-resources" && bearer && !extra) {
    return send(200, [{ id: "1324a887-45db-1bf4-1e99-ef0ff456d421", name: "Site name", url: "https://your-domain.atlassian.net", scopes: ["read:jira-work"], avatarUrl: "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/flag.png" }]);
  }
  const installation = req.url.match(/^\/app\/installations\/([^/]+)\/access_tokens$/);
  if (req.method === "POST" && installation) {
    const claims = verifyJwt((req.headers.authorization || "").replace(/^Bearer /, ""));
    const fresh = claims && String(claims.iss) === appId && claims.exp > now() && claims.exp - claims.iat <= 600 && claims.iat <= now() + 5;
    if (!fresh) {
      counts.refused += 1;
      return send(401, { message: "A JSON web token could not be decoded", documentation_url: "https://docs.github.com/rest" });
    }
    if (installation[1] === "404") return send(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
    const raw = await readBody(req);
    let asked = {};
    try {
      asked = raw ? JSON.parse(raw) : {};
    } catch {
      return send(400, { message: "Problems parsing JSON", documentation_url: "https://docs.github.com/rest" });
    }
    counts.last_installation_body = raw ? asked : null;
    const { repositories, permissions } = asked;
    const unprocessable = (message) => send(422, { message, documentation_url: "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app", status: "422" });
    if ((repositories ?? []).includes("not-installed")) {
      return unprocessable("There is at least one repository that does not exist or is not accessible to the parent installation.");
    }
    const above = Object.entries(permissions ?? {}).some(([name, level]) => LEVELS.indexOf(level) > LEVELS.indexOf(INSTALLED[name] ?? "none"));
    if (above) return unprocessable("The permissions requested are not granted to this installation.");
    counts.installation_tokens += 1;
    const answer = {
      token: `ghs_${randomBytes(18).toString("hex")}`,
      expires_at: new Date((now() + 3600) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z"),
      permissions: permissions ? { ...permissions, metadata: "read" } : INSTALLED,
      repository_selection: repositories ? "selected" : "all",
    };
    if (repositories) answer.repositories = repositories.map((name, i) => ({ id: 1000 + i, node_id: `R_${i}`, name, full_name: `acme/${name}`, private: true }));
    return send(201, answer);
  }
  if (req.method === "POST" && req.url === "/oauth/token") {
    const form = new URLSearchParams(await readBody(req));
    const claims = form.get("grant_type") === "urn:ietf:params:oauth:grant-type:jwt-bearer" ? verifyJwt(form.get("assertion")) : null;
    const valid = claims && claims.iss === clientId && claims.aud === `${base}/oauth/token` && claims.exp > now() && claims.sub;
    if (!valid) {
      counts.refused += 1;
      return send(400, { error: "invalid_grant", error_description: "assertion rejected" });
    }
    counts.jwt_bearer_tokens += 1;
    return send(200, { access_token: `jb_${randomBytes(18).toString("hex")}`, token_type: "Bearer", expires_in: 3600, scope: form.get("scope") || "" });
  }
  if (req.method === "GET" && req.url === "/test/keys") return send(200, { private_key_pem: privateKey.export({ type: "pkcs8", format: "pem" }) });
  if (req.method === "GET" && req.url === "/test/counts") return send(200, counts);
  if (req.method === "POST" && req.url === "/test/settings") {
    Object.assign(settings, JSON.parse((await readBody(req)) || "{}"));
    return send(200, settings);
  }
  send(404, { message: "Not Found" });
});

server.listen(Number(arg("port", "0")), "127.0.0.1", () => {
  base = `http://127.0.0.1:${server.address().port}`;
  console.log(JSON.stringify({ base }));
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
