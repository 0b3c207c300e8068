// Request and response shapes. Requests are camelCase here and snake_case on the wire; answers are
// converted the same way (provider metadata stays exactly as the provider sent it).

/** Whose token: an end user's own grant, or the tenant-wide installation. */
export type Subject = { type: "user"; id: string } | { type: "app"; id?: undefined };

/** A secret key (`lk_sk_...`), a connection access token, or a function that returns a fresh OIDC token (called per request). */
export type Credential = string | (() => string | Promise<string>);

/** A provider token from the broker. `accessToken` prints as [redacted] in inspect output. */
export interface ProviderToken {
  readonly accessToken: string;
  /** A user-level token beside the app's, where the provider grants one (Slack's user token). */
  readonly userAccessToken: string | null;
  /** `Bearer`, `api_key` or `basic`. */
  readonly tokenType: string;
  /** When it expires; null for credentials that do not. */
  readonly expiresAt: Date | null;
  /** What the token can do: the provider's word, never the request echoed back. */
  readonly scopes: readonly string[];
  /** The resources (RFC 8707) a narrowed token is limited to; null when it is not. */
  readonly resources: readonly string[] | null;
  /** The authorization details (RFC 9396) a narrowed token carries; null when it carries none. */
  readonly authorizationDetails: readonly Readonly<Record<string, unknown>>[] | null;
  readonly connectionId: string;
  readonly installationId: string | null;
  readonly connector: { readonly uid: string; readonly provider: string };
  /** What the provider returned that callers need (instance URL, tenant id). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

export interface GetTokenOptions {
  subject: Subject;
  installationId?: string;
  /** Scopes to narrow the token to (a subset of what was granted; for a GitHub App, permissions such as `contents:read`). */
  scopes?: string[];
  /** Resource indicators (RFC 8707) to narrow the token to: absolute https URIs without a fragment. */
  resources?: string[];
  /** Rich authorization details (RFC 9396) to narrow the token to, each with a `type`. */
  authorizationDetails?: Record<string, unknown>[];
  /** Accept the connection's full token where the provider cannot narrow, instead of `NarrowingUnsupportedError`. */
  allowBroader?: boolean;
  /** Skip the cache (the answer still refreshes it). */
  forceRefresh?: boolean;
  /** Use this credential instead of the client's for this call. */
  credential?: Credential;
  signal?: AbortSignal;
}

export interface EndUser {
  id: string;
  email?: string;
  displayName?: string;
}

export interface CreateLinkTokenParams {
  endUser: EndUser;
  /** Connector uids to offer; every connector of the project environment when absent. */
  connectors?: string[];
  /** Update mode: re-authorize this connection. */
  connectionId?: string;
  /** Full-page mode: where the Connect page returns the browser (an allowed origin). */
  redirectUrl?: string;
}

export interface LinkToken {
  /** Give it to the browser: `Latchkey.open({ linkToken })`. Prints as [redacted]. */
  readonly linkToken: string;
  readonly expiresAt: string;
  /**
   * The hosted page for this link as a full page: only when the link has a `redirectUrl`, where
   * the page then sends its result. Without one, `null`: open the link with `Latchkey.open`.
   */
  readonly connectUrl: string | null;
}

export interface ExchangedConnection {
  readonly connectionId: string;
  /** Latchkey's credential for this one connection: keep it server-side. Prints as [redacted]. */
  readonly accessToken: string;
  readonly connector: string;
  readonly endUser: Readonly<{ id: string; email?: string | null; display_name?: string | null }>;
}

export interface SessionSettings {
  autoRedirect?: boolean;
  isolationMode?: boolean;
  allowedConnectors?: string[];
  unifiedApis?: string[];
  /** Seconds, or a duration like "30m", "2h", "7d" (at most a week). */
  sessionLength?: number | string;
  showSidebar?: boolean;
  hideResourceSettings?: boolean;
  allowActions?: ("reauthorize" | "disconnect" | "delete")[];
}

export interface CreateSessionParams {
  consumerId: string;
  consumerMetadata?: { accountName?: string; userName?: string; email?: string };
  /** Where the page returns the browser (an allowed origin of the project). */
  redirectUri: string;
  settings?: SessionSettings;
  theme?: { name?: string; logo?: string; primaryColor?: string };
}

export interface Session {
  /** A JWT: open `url`, or a deep link `/connect/{unifiedApi}/{serviceId}?jwt=`. Prints as [redacted]. */
  readonly sessionToken: string;
  readonly url: string;
  readonly expiresAt: string;
}

export type ConnectionState = "available" | "added" | "authorized" | "callable" | "invalid" | (string & {});

export interface Connection {
  /** Null for a connector this consumer has no connection to (state `available`). */
  readonly id: string | null;
  readonly connector: string;
  readonly name: string;
  readonly provider: string;
  readonly authType: string;
  readonly state: ConnectionState;
  readonly consumerId: string | null;
  readonly scopes: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Send the consumer here to authorize (append `&redirect_uri=`). */
  readonly authorizeUrl: string | null;
  readonly revokeUrl: string | null;
  readonly createdAt: string | null;
  readonly updatedAt: string | null;
}

export interface Page<T> {
  readonly data: readonly T[];
  /** Pass as `cursor` for the next page; null on the last one. */
  readonly nextCursor: string | null;
}

export interface ListConnectionsParams {
  consumerId: string;
  limit?: number;
  cursor?: string;
}

export interface ImportConnectionParams {
  consumerId: string;
  connector: string;
  credentials: {
    accessToken?: string;
    refreshToken?: string;
    expiresIn?: number;
    apiKey?: string;
    username?: string;
    password?: string;
  };
  scopes?: string[];
  metadata?: Record<string, unknown>;
}

export interface DeletedConnection {
  readonly id: string;
  readonly deleted: boolean;
  /** Whether the provider confirmed the revocation (RFC 7009). */
  readonly revoked: boolean;
}

/** What the audit trail records (the server's closed set). */
export type AuditAction =
  | "token_issued"
  | "proxy_call"
  | "connection_created"
  | "connection_relinked"
  | "connection_updated"
  | "connection_disconnected"
  | "connection_deleted"
  | "credentials_imported"
  | "access_token_issued"
  | "access_token_revoked"
  | "secret_key_created"
  | "secret_key_revoked"
  | "connector_linked"
  | "connector_unlinked"
  | "connector_changed"
  | "connector_deleted"
  | "issuer_trusted"
  | "issuer_distrusted"
  | "origins_changed"
  | "installation_recorded";

/** Who acted: a secret key, an OIDC token, a connection access token, an end user on the Connect page, the operator's CLI. */
export type AuditActorKind = "secret_key" | "oidc" | "connection_token" | "end_user" | "operator" | (string & {});

/** The filters of `GET /v1/audit` (the trail of the calling secret key's project environment). */
export interface AuditParams {
  /** Only this action. */
  action?: AuditAction;
  /** Only events about this connection (`conn_...`). */
  connectionId?: string;
  /** Only events at or after this instant: a `Date`, or Unix seconds. */
  since?: Date | number;
  /** Only events before this instant: a `Date`, or Unix seconds. */
  until?: Date | number;
  /** Events per page, 1 to 100 (the server's default is 50). */
  limit?: number;
  /** The previous page's `nextCursor`. */
  cursor?: string;
}

/** One event of the audit trail, newest first. Never a secret, a token or a body. */
export interface AuditEvent {
  /** `aud_...`, unique. */
  readonly id: string;
  /** When, in Unix milliseconds. */
  readonly atMs: number;
  readonly action: AuditAction | (string & {});
  readonly actorKind: AuditActorKind;
  /** Which one: a key id, `iss` and `sub`, a connection id, a consumer id, `cli`. */
  readonly actorId: string;
  /** `ok`, or the stable error code of the refusal. */
  readonly outcome: string;
  readonly projectId: string;
  /** The environment, when the action had one. */
  readonly environment: string | null;
  readonly connectionId: string | null;
  readonly connector: string | null;
  /** The caller's address, when it came over HTTP. */
  readonly sourceIp: string | null;
  readonly userAgent: string | null;
  /** What else the action has to say (a proxy call's method, host, path, status), as the server sent it; `{}` when nothing. */
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface ProxyOptions {
  /** Whose connection: sent as `x-latchkey-subject: user:<id>` or `app`. */
  subject: Subject;
  /** GET (default), POST, PUT, PATCH or DELETE. */
  method?: string;
  /** The installation, for app connections with several (`x-latchkey-installation-id`). */
  installationId?: string;
  /** Retries of a 429 or 503 from the provider, honouring its Retry-After: 0 (default) to 3 (`x-latchkey-retries`). */
  retries?: number;
  /** Headers for the provider (hop-by-hop headers, cookies and `x-latchkey-*` are not forwarded). */
  headers?: HeadersInit;
  /** Streamed to the provider as is (at most 10 MiB); a plain object or array is sent as JSON. */
  body?: BodyInit | Record<string, unknown> | unknown[] | null;
  /** Query parameters, added to any the path carries. */
  query?: Record<string, string | number | boolean | undefined | null>;
  credential?: Credential;
  signal?: AbortSignal;
}
