// The Latchkey client: every route of the API, typed errors, and the token cache.

import { TokenCache, type TokenCacheOptions } from "./cache.js";
import { errorFromResponse, LatchkeyConnectionError, LatchkeyError, ProxyPathInvalidError } from "./errors.js";
import { redacted } from "./redact.js";
import type {
  AuditEvent,
  AuditParams,
  Connection,
  CreateLinkTokenParams,
  CreateSessionParams,
  Credential,
  DeletedConnection,
  ExchangedConnection,
  GetTokenOptions,
  ImportConnectionParams,
  LinkToken,
  ListConnectionsParams,
  Page,
  ProviderToken,
  ProxyOptions,
  Session,
  Subject,
} from "./types.js";

export const VERSION = "0.1.0";

export interface LatchkeyOptions {
  /** Latchkey's base URL, e.g. `https://auth.example.com` or `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** A secret key, a connection access token, or an async function returning an OIDC token (called per request). */
  credential: Credential;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch;
  /** Per-request timeout in milliseconds (default 30000). */
  timeoutMs?: number;
  /** Token cache options, or false to ask Latchkey every time. */
  tokenCache?: TokenCacheOptions | false;
  /** The clock in milliseconds (tests). */
  now?: () => number;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined | null>;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent as is, with `content-type: application/json` unless `headers` says otherwise. */
  rawBody?: string;
  headers?: Record<string, string>;
  credential?: Credential;
  signal?: AbortSignal;
}

type Json = Record<string, unknown>;

function compact<T extends Json>(value: T): T {
  const out: Json = {};
  for (const [key, field] of Object.entries(value)) if (field !== undefined) out[key] = field;
  return out as T;
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value as Json)
        .sort()
        .map((k) => [k, canonical((value as Json)[k])]),
    );
  }
  return value;
}

function str(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function record(value: unknown): Json {
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Json) : {};
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function unexpected(what: string): LatchkeyError {
  return new LatchkeyError({ code: "unexpected_response", message: `unexpected ${what} from Latchkey`, status: 200 });
}

function subjectBody(subject: Subject): Json {
  if (!subject || (subject.type !== "user" && subject.type !== "app")) throw new TypeError('subject must be {type: "user", id} or {type: "app"}');
  if (subject.type === "user") {
    if (typeof subject.id !== "string" || subject.id.length === 0) throw new TypeError("a user subject needs its id");
    return { type: "user", id: subject.id };
  }
  return { type: "app" };
}

function toToken(body: unknown): ProviderToken {
  const b = record(body);
  const accessToken = str(b["access_token"]);
  const connectionId = str(b["connection_id"]);
  if (accessToken === null || connectionId === null) throw unexpected("token answer");
  const expires = str(b["expires_at"]);
  const expiresAt = expires === null ? null : new Date(expires);
  if (expiresAt !== null && Number.isNaN(expiresAt.getTime())) throw unexpected("expires_at");
  const connector = record(b["connector"]);
  return redacted(
    {
      accessToken,
      userAccessToken: str(b["user_access_token"]),
      tokenType: str(b["token_type"]) ?? "Bearer",
      expiresAt,
      scopes: Object.freeze(strings(b["scopes"])),
      resources: Array.isArray(b["resources"]) ? Object.freeze(strings(b["resources"])) : null,
      authorizationDetails: Array.isArray(b["authorization_details"])
        ? Object.freeze((b["authorization_details"] as unknown[]).map((d) => Object.freeze(record(d))))
        : null,
      connectionId,
      installationId: str(b["installation_id"]),
      connector: Object.freeze({ uid: str(connector["uid"]) ?? "", provider: str(connector["provider"]) ?? "" }),
      metadata: Object.freeze(record(b["metadata"])),
    } satisfies ProviderToken,
    ["accessToken", "userAccessToken"],
    "ProviderToken",
  );
}

function toConnection(raw: unknown): Connection {
  const c = record(raw);
  return Object.freeze({
    id: str(c["id"]),
    connector: str(c["connector"]) ?? "",
    name: str(c["name"]) ?? "",
    provider: str(c["provider"]) ?? "",
    authType: str(c["auth_type"]) ?? "",
    state: str(c["state"]) ?? "",
    consumerId: str(c["consumer_id"]),
    scopes: Object.freeze(strings(c["scopes"])),
    metadata: Object.freeze(record(c["metadata"])),
    authorizeUrl: str(c["authorize_url"]),
    revokeUrl: str(c["revoke_url"]),
    createdAt: str(c["created_at"]),
    updatedAt: str(c["updated_at"]),
  });
}

function num(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

function toAuditEvent(raw: unknown): AuditEvent {
  const e = record(raw);
  const id = str(e["id"]);
  const atMs = num(e["at_ms"]);
  const action = str(e["action"]);
  if (id === null || atMs === null || action === null) throw unexpected("audit event");
  return Object.freeze({
    id,
    atMs,
    action,
    actorKind: str(e["actor_kind"]) ?? "",
    actorId: str(e["actor_id"]) ?? "",
    outcome: str(e["outcome"]) ?? "",
    projectId: str(e["project_id"]) ?? "",
    environment: str(e["environment"]),
    connectionId: str(e["connection_id"]),
    connector: str(e["connector"]),
    sourceIp: str(e["source_ip"]),
    userAgent: str(e["user_agent"]),
    detail: Object.freeze(record(e["detail"])),
  });
}

function page<T>(body: unknown, map: (raw: unknown) => T): Page<T> {
  const b = record(body);
  if (!Array.isArray(b["data"])) throw unexpected("list answer");
  return Object.freeze({ data: Object.freeze(b["data"].map(map)), nextCursor: str(b["next_cursor"]) });
}

/** Unix seconds, from a Date or a number of seconds. */
function unixSeconds(value: Date | number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  const seconds = value instanceof Date ? Math.floor(value.getTime() / 1000) : value;
  if (!Number.isInteger(seconds) || seconds < 0) throw new TypeError(`${what} must be a Date or whole Unix seconds, not before 1970`);
  return seconds;
}

/** Latchkey's API. One per process is plenty; it holds the token cache. */
export class Latchkey {
  readonly baseUrl: string;
  readonly #credential: Credential;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #cache: TokenCache | null;
  readonly #now: () => number;
  readonly #credentialIds = new WeakMap<object, number>();
  #nextCredentialId = 1;

  /** Connections: list (paginated), iterate, get, delete, import, configure. */
  readonly connections: {
    list(params: ListConnectionsParams, options?: { signal?: AbortSignal }): Promise<Page<Connection>>;
    iterate(params: Omit<ListConnectionsParams, "cursor">, options?: { signal?: AbortSignal }): AsyncIterableIterator<Connection>;
    get(connectionId: string, options?: { signal?: AbortSignal }): Promise<Connection>;
    delete(connectionId: string, options?: { signal?: AbortSignal }): Promise<DeletedConnection>;
    import(params: ImportConnectionParams, options?: { signal?: AbortSignal }): Promise<Connection>;
    configure(connectionId: string, settings: Record<string, string>, options?: { signal?: AbortSignal }): Promise<Connection>;
  };

  /** The audit log: list (paginated) and iterate. */
  readonly audit: {
    list(params?: AuditParams, options?: { signal?: AbortSignal }): Promise<Page<AuditEvent>>;
    iterate(params?: Omit<AuditParams, "cursor">, options?: { signal?: AbortSignal }): AsyncIterableIterator<AuditEvent>;
  };

  constructor(options: LatchkeyOptions) {
    if (!options || typeof options.baseUrl !== "string") throw new TypeError("Latchkey needs a baseUrl");
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new TypeError("Latchkey's baseUrl is not a URL");
    }
    if (base.protocol !== "https:" && base.protocol !== "http:") throw new TypeError("Latchkey's baseUrl must be http(s)");
    this.baseUrl = base.toString().replace(/\/+$/, "");
    const credential = options.credential;
    if (!(typeof credential === "function" || (typeof credential === "string" && credential.length > 0))) {
      throw new TypeError("Latchkey needs a credential: a secret key, a connection access token or a function returning an OIDC token");
    }
    this.#credential = credential;
    const fetchImpl = options.fetch ?? (globalThis.fetch as typeof fetch | undefined);
    if (!fetchImpl) throw new TypeError("no fetch implementation: pass options.fetch");
    this.#fetch = fetchImpl;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#now = options.now ?? Date.now;
    this.#cache = options.tokenCache === false ? null : new TokenCache(options.tokenCache ?? {}, this.#now);

    const self = this;
    this.connections = {
      list: (params, opts) => self.#listConnections(params, opts?.signal),
      iterate(params, opts) {
        return self.#paginate((cursor) => self.#listConnections({ ...params, cursor }, opts?.signal));
      },
      get: async (id, opts) => toConnection(record(await self.request("GET", `/v1/connections/${self.#segment(id, "connectionId")}`, { signal: opts?.signal }))["data"]),
      delete: async (id, opts) => {
        const data = record(record(await self.request("DELETE", `/v1/connections/${self.#segment(id, "connectionId")}`, { signal: opts?.signal }))["data"]);
        return Object.freeze({ id: str(data["id"]) ?? id, deleted: data["deleted"] === true, revoked: data["revoked"] === true });
      },
      import: async (params, opts) => {
        const c = params.credentials ?? {};
        const body = compact({
          consumer_id: params.consumerId,
          connector: params.connector,
          credentials: compact({
            access_token: c.accessToken,
            refresh_token: c.refreshToken,
            expires_in: c.expiresIn,
            api_key: c.apiKey,
            username: c.username,
            password: c.password,
          }),
          scopes: params.scopes,
          metadata: params.metadata,
        });
        return toConnection(record(await self.request("POST", "/v1/connections/import", { body, signal: opts?.signal }))["data"]);
      },
      configure: async (id, settings, opts) =>
        toConnection(record(await self.request("PATCH", `/v1/connections/${self.#segment(id, "connectionId")}`, { body: { settings }, signal: opts?.signal }))["data"]),
    };
    this.audit = {
      list: (params, opts) => self.#listAudit(params ?? {}, opts?.signal),
      iterate(params, opts) {
        return self.#paginate((cursor) => self.#listAudit({ ...(params ?? {}), cursor }, opts?.signal));
      },
    };
  }

  /** Mints a link token for one end user (secret key). */
  async createLinkToken(params: CreateLinkTokenParams, options: { signal?: AbortSignal } = {}): Promise<LinkToken> {
    const endUser = params.endUser;
    const body = compact({
      end_user: compact({ id: endUser?.id, email: endUser?.email, display_name: endUser?.displayName }),
      connectors: params.connectors,
      connection_id: params.connectionId,
      redirect_url: params.redirectUrl,
    });
    const b = record(await this.request("POST", "/v1/link/token", { body, signal: options.signal }));
    const linkToken = str(b["link_token"]);
    if (linkToken === null) throw unexpected("link token answer");
    return redacted({ linkToken, expiresAt: str(b["expires_at"]) ?? "", connectUrl: str(b["connect_url"]) }, ["linkToken", "connectUrl"], "LinkToken");
  }

  /** Exchanges the one-time public token `onSuccess` received for the connection's access token. */
  async exchangePublicToken(publicToken: string, options: { signal?: AbortSignal } = {}): Promise<ExchangedConnection> {
    if (typeof publicToken !== "string" || publicToken.length === 0) throw new TypeError("exchangePublicToken needs the public token");
    const b = record(await this.request("POST", "/v1/link/exchange", { body: { public_token: publicToken }, signal: options.signal }));
    const accessToken = str(b["access_token"]);
    const connectionId = str(b["connection_id"]);
    if (accessToken === null || connectionId === null) throw unexpected("exchange answer");
    return redacted(
      { connectionId, accessToken, connector: str(b["connector"]) ?? "", endUser: Object.freeze(record(b["end_user"])) as ExchangedConnection["endUser"] },
      ["accessToken"],
      "ExchangedConnection",
    );
  }

  /** Creates a Connect session (Vault) for one consumer. */
  async createSession(params: CreateSessionParams, options: { signal?: AbortSignal } = {}): Promise<Session> {
    const s = params.settings;
    const m = params.consumerMetadata;
    const t = params.theme;
    const body = compact({
      consumer_id: params.consumerId,
      consumer_metadata: m && compact({ account_name: m.accountName, user_name: m.userName, email: m.email }),
      redirect_uri: params.redirectUri,
      settings:
        s &&
        compact({
          auto_redirect: s.autoRedirect,
          isolation_mode: s.isolationMode,
          allowed_connectors: s.allowedConnectors,
          unified_apis: s.unifiedApis,
          session_length: s.sessionLength,
          show_sidebar: s.showSidebar,
          hide_resource_settings: s.hideResourceSettings,
          allow_actions: s.allowActions,
        }),
      theme: t && compact({ name: t.name, logo: t.logo, primary_color: t.primaryColor }),
    });
    const b = record(await this.request("POST", "/v1/sessions", { body, signal: options.signal }));
    const sessionToken = str(b["session_token"]);
    if (sessionToken === null) throw unexpected("session answer");
    return redacted({ sessionToken, url: str(b["url"]) ?? "", expiresAt: str(b["expires_at"]) ?? "" }, ["sessionToken", "url"], "Session");
  }

  /**
   * A provider token for `connector` (`slack/acme-slack`) and a subject, from the in-process cache
   * while fresh; concurrent calls for the same token make one request.
   */
  async getToken(connector: string, options: GetTokenOptions): Promise<ProviderToken> {
    const segment = this.#segment(connector, "connector");
    if (!options) throw new TypeError("getToken needs {subject}");
    const body = compact({
      subject: subjectBody(options.subject),
      installation_id: options.installationId,
      scopes: options.scopes,
      resources: options.resources,
      authorization_details: options.authorizationDetails,
      allow_broader: options.allowBroader,
    });
    const credential = options.credential ?? this.#credential;
    const fetchToken = async () => toToken(await this.request("POST", `/v1/token/${segment}`, { body, credential, signal: options.signal }));
    if (!this.#cache) return fetchToken();
    return this.#cache.get(this.#cacheKey(connector, options, credential), fetchToken, options.forceRefresh === true);
  }

  /** Forgets the cached token for these options (after the provider refused it, say); or every token. */
  clearTokenCache(connector?: string, options?: GetTokenOptions): void {
    if (!this.#cache) return;
    if (connector === undefined || options === undefined) this.#cache.clear();
    else this.#cache.delete(this.#cacheKey(connector, options, options.credential ?? this.#credential));
  }

  /**
   * Calls the provider through Latchkey's proxy (`ANY /v1/proxy/{connector}/{path}`), which injects
   * the subject's credential. The provider's answer (marked `x-latchkey-upstream: true`) comes back
   * as its `Response`, whatever its status; Latchkey's own refusals (`connector_not_proxyable`,
   * `proxy_path_invalid`, `destination_not_allowed`, `upstream_unreachable`, the token broker's
   * codes, ...) throw their `LatchkeyError`. `path` is below the connector's API base, as the
   * provider spells it (percent-encode its segments yourself); it may carry a query.
   */
  async proxy(connector: string, path: string, options: ProxyOptions): Promise<Response> {
    const segment = this.#segment(connector, "connector");
    if (typeof path !== "string") throw new TypeError("proxy needs a path");
    if (!options) throw new TypeError("proxy needs {subject}");
    const [pathPart, queryPart] = splitOnce(path.replace(/^\/+/, ""), "?");
    // The server refuses `.` and `..` segments (plain or percent-encoded); refused here too, since
    // a URL parser would silently resolve them before the request left.
    if (pathPart.split("/").some((s) => [".", ".."].includes(decodeURIComponentSafe(s)))) {
      throw new ProxyPathInvalidError({ code: "proxy_path_invalid", message: "the proxied path may not contain . or .. segments", status: 0 });
    }
    const retries = options.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0 || retries > 3) throw new TypeError("retries must be 0 to 3");
    const url = new URL(`${this.baseUrl}/v1/proxy/${segment}/${pathPart}${queryPart === undefined ? "" : `?${queryPart}`}`);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined && value !== null) url.searchParams.append(key, String(value));
    const subject = subjectBody(options.subject);
    const headers = new Headers(options.headers);
    const ours: string[] = [];
    headers.forEach((_, name) => {
      if (name.startsWith("x-latchkey-")) ours.push(name);
    });
    for (const name of ours) headers.delete(name);
    headers.set("x-latchkey-subject", subject["type"] === "user" ? `user:${String(subject["id"])}` : "app");
    if (options.installationId !== undefined) headers.set("x-latchkey-installation-id", options.installationId);
    headers.set("x-latchkey-retries", String(retries));
    let body = options.body as BodyInit | null | undefined;
    if (body !== undefined && body !== null && isJsonBody(body)) {
      body = JSON.stringify(body);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
    headers.set("authorization", `Bearer ${await this.#resolve(options.credential ?? this.#credential)}`);
    const init: RequestInit & { duplex?: "half" } = { method: (options.method ?? "GET").toUpperCase(), headers, body: body ?? null };
    if (typeof ReadableStream !== "undefined" && body instanceof ReadableStream) init.duplex = "half";
    const response = await this.#send(url, init, options.signal);
    if (response.headers.get("x-latchkey-upstream") === "true") return response;
    // Not the provider's: Latchkey's own error, or something in between that is neither.
    throw await this.#errorOf(response);
  }

  /** Revokes a connection access token. */
  async revokeAccessToken(accessToken: string, options: { signal?: AbortSignal } = {}): Promise<{ revoked: boolean }> {
    if (typeof accessToken !== "string" || accessToken.length === 0) throw new TypeError("revokeAccessToken needs the access token");
    const b = record(await this.request("POST", "/v1/access-tokens/revoke", { body: { access_token: accessToken }, signal: options.signal }));
    return Object.freeze({ revoked: b["revoked"] === true });
  }

  /**
   * Any route: `path` is appended to the base URL as given (encode path segments yourself). Answers
   * the parsed JSON body (or null for an empty one); a failing answer throws its `LatchkeyError`.
   */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<unknown> {
    if (!path.startsWith("/")) throw new TypeError("the path must start with /");
    const url = new URL(this.baseUrl + path);
    for (const [key, value] of Object.entries(options.query ?? {})) if (value !== undefined && value !== null) url.searchParams.append(key, String(value));
    const headers = new Headers(options.headers);
    headers.set("accept", "application/json");
    let body: string | null = null;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== null && !headers.has("content-type")) headers.set("content-type", "application/json");
    headers.set("authorization", `Bearer ${await this.#resolve(options.credential ?? this.#credential)}`);
    const response = await this.#send(url, { method, headers, body }, options.signal);
    if (!response.ok) throw await this.#errorOf(response);
    const text = await response.text().catch(() => {
      throw new LatchkeyConnectionError("the answer from Latchkey was cut off");
    });
    if (text.length === 0) return null;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new LatchkeyError({ code: "unexpected_response", message: `Latchkey answered HTTP ${response.status} with a body that is not JSON`, status: response.status });
    }
  }

  // --- internals ---

  async #send(url: URL, init: RequestInit, signal?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    const combined = signal ? anySignal([signal, timeout]) : timeout;
    try {
      return await this.#fetch(url, { ...init, redirect: "manual", signal: combined });
    } catch (error) {
      if (signal?.aborted) throw signal.reason ?? error;
      const timedOut = timeout.aborted;
      throw new LatchkeyConnectionError(timedOut ? `no answer from Latchkey within ${this.#timeoutMs} ms` : `could not reach Latchkey at ${this.baseUrl}`);
    }
  }

  async #errorOf(response: Response): Promise<LatchkeyError> {
    let body: unknown;
    try {
      body = JSON.parse(await response.text());
    } catch {
      body = undefined;
    }
    return errorFromResponse(response.status, body, response.headers.get("retry-after"));
  }

  async #resolve(credential: Credential): Promise<string> {
    if (typeof credential === "string") return credential;
    const value = await credential();
    if (typeof value !== "string" || value.length === 0) throw new TypeError("the credential function returned no token");
    return value;
  }

  #segment(value: string, what: string): string {
    if (typeof value !== "string" || value.length === 0) throw new TypeError(`${what} must be a non-empty string`);
    return encodeURIComponent(value);
  }

  #cacheKey(connector: string, options: GetTokenOptions, credential: Credential): string {
    let credentialId: string | number;
    if (typeof credential === "function") {
      credentialId = this.#credentialIds.get(credential) ?? this.#nextCredentialId++;
      this.#credentialIds.set(credential, credentialId);
    } else credentialId = credential === this.#credential ? 0 : `s:${credential}`;
    const sorted = (v?: string[]) => (v === undefined ? null : [...v].sort());
    return JSON.stringify([
      credentialId,
      connector,
      options.subject?.type,
      options.subject?.type === "user" ? options.subject.id : null,
      options.installationId ?? null,
      sorted(options.scopes),
      sorted(options.resources),
      options.authorizationDetails === undefined ? null : canonical(options.authorizationDetails),
      options.allowBroader ?? false,
    ]);
  }

  async #listConnections(params: ListConnectionsParams, signal?: AbortSignal): Promise<Page<Connection>> {
    if (!params || typeof params.consumerId !== "string" || params.consumerId.length === 0) throw new TypeError("connections.list needs a consumerId");
    const body = await this.request("GET", "/v1/connections", {
      query: { consumer_id: params.consumerId, limit: params.limit, cursor: params.cursor },
      signal,
    });
    return page(body, toConnection);
  }

  async #listAudit(params: AuditParams, signal?: AbortSignal): Promise<Page<AuditEvent>> {
    const body = await this.request("GET", "/v1/audit", {
      query: {
        action: params.action,
        connection_id: params.connectionId,
        since: unixSeconds(params.since, "since"),
        until: unixSeconds(params.until, "until"),
        limit: params.limit,
        cursor: params.cursor,
      },
      signal,
    });
    return page(body, toAuditEvent);
  }

  async *#paginate<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>): AsyncIterableIterator<T> {
    const seen = new Set<string>();
    let cursor: string | undefined;
    for (;;) {
      const current = await fetchPage(cursor);
      yield* current.data;
      const next = current.nextCursor;
      if (next === null || next === "") return;
      if (seen.has(next)) throw new LatchkeyError({ code: "unexpected_response", message: "Latchkey answered the same cursor twice", status: 200 });
      seen.add(next);
      cursor = next;
    }
  }
}

function splitOnce(value: string, separator: string): [string, string | undefined] {
  const at = value.indexOf(separator);
  return at < 0 ? [value, undefined] : [value.slice(0, at), value.slice(at + 1)];
}

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function isJsonBody(body: unknown): boolean {
  if (Array.isArray(body)) return true;
  if (typeof body !== "object" || body === null) return false;
  const proto = Object.getPrototypeOf(body);
  return proto === Object.prototype || proto === null;
}

function anySignal(signals: AbortSignal[]): AbortSignal {
  const any = (AbortSignal as unknown as { any?: (s: AbortSignal[]) => AbortSignal }).any;
  if (any) return any(signals);
  const controller = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      controller.abort(s.reason);
      break;
    }
    s.addEventListener("abort", () => controller.abort(s.reason), { once: true });
  }
  return controller.signal;
}
