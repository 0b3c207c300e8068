// Errors: one class per stable code of Latchkey's API, all extending LatchkeyError.
//
// Messages come from the server (which never puts a secret in them) or are fixed strings of this
// SDK; no credential, token or request body is ever part of an error.

/** Every error code the API answers with. Codes are a closed set; an unknown one still maps to `LatchkeyError`. */
export const ERROR_CODES = [
  "unauthenticated",
  "invalid_request",
  "invalid_cursor",
  "invalid_json",
  "payload_too_large",
  "field_invalid",
  "cross_site_request",
  "route_not_found",
  "method_not_allowed",
  "not_found",
  "conflict",
  "unavailable",
  "timeout",
  "internal_error",
  "connector_not_found",
  "client_not_linked_to_project",
  "client_not_enabled_for_environment",
  "subject_not_allowed",
  "connector_installation_required",
  "user_authorization_required",
  "connection_configuration_required",
  "scope_not_granted",
  "narrowing_unsupported",
  "token_refresh_failed",
  "upstream_unavailable",
  "refresh_wait_timeout",
  "rate_limited",
  "link_token_invalid",
  "redirect_url_not_allowed",
  "redirect_url_required",
  "origin_not_allowed",
  "connector_not_allowed",
  "connector_misconfigured",
  "destination_not_allowed",
  "proxy_path_invalid",
  "connector_not_proxyable",
  "upstream_unreachable",
  "connection_not_found",
  "state_missing",
  "state_invalid",
  "state_mismatch",
  "issuer_mismatch",
  "access_denied",
  "invalid_scope",
  "server_error",
  "temporarily_unavailable",
  "unauthorized_client",
  "unsupported_response_type",
  "consent_required",
  "login_required",
  "interaction_required",
  "provider_error",
  "code_exchange_failed",
  "provider_unavailable",
  "public_token_invalid",
  "sandbox_request_invalid",
  "sandbox_unavailable",
  "insufficient_scope",
] as const;

/** A code of the API. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes this SDK uses for failures that never reached a Latchkey answer. */
export type ClientErrorCode = "connection_error" | "unexpected_response";

/** What the server said, as the SDK received it. */
export interface LatchkeyErrorInit {
  code: string;
  message: string;
  status: number;
  details?: Record<string, unknown> | null;
  retryAfter?: number | null;
}

/** A request Latchkey refused (or that never got an answer from it). */
export class LatchkeyError extends Error {
  /** The stable code: one of `ERROR_CODES`, a `ClientErrorCode`, or a code newer than this SDK. */
  readonly code: string;
  /** The HTTP status (0 when no answer arrived). */
  readonly status: number;
  /** What the caller needs to fix it, when the server says (for example `link_token_request`). */
  readonly details: Record<string, unknown> | null;
  /** Seconds to wait before retrying (429 and 503 answers), else null. */
  readonly retryAfter: number | null;

  constructor(init: LatchkeyErrorInit) {
    super(init.message);
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.details = init.details ?? null;
    this.retryAfter = init.retryAfter ?? null;
  }

  /** Whether the same request may succeed later, unchanged. */
  get retryable(): boolean {
    return this.status === 429 || this.status === 503 || this.code === "connection_error" || this.code === "refresh_wait_timeout";
  }
}

/** No answer from Latchkey: the connection failed or timed out. */
export class LatchkeyConnectionError extends LatchkeyError {
  constructor(message: string) {
    super({ code: "connection_error", message, status: 0 });
  }
}

export class UnauthenticatedError extends LatchkeyError {}
export class InvalidRequestError extends LatchkeyError {}
/** A listing's cursor that is not one that listing gave (another consumer's, or made up). */
export class InvalidCursorError extends LatchkeyError {}
export class InvalidJsonError extends LatchkeyError {}
export class NotFoundError extends LatchkeyError {}
export class RouteNotFoundError extends LatchkeyError {}
export class MethodNotAllowedError extends LatchkeyError {}
export class ConflictError extends LatchkeyError {}
export class UnavailableError extends LatchkeyError {}
export class InternalError extends LatchkeyError {}
export class ConnectorNotFoundError extends LatchkeyError {}
export class ClientNotLinkedToProjectError extends LatchkeyError {}
export class ClientNotEnabledForEnvironmentError extends LatchkeyError {}
export class SubjectNotAllowedError extends LatchkeyError {}
export class ConnectorInstallationRequiredError extends LatchkeyError {}
/** The user must authorize (again); `linkTokenRequest` is the body of `createLinkToken` that fixes it. */
export class UserAuthorizationRequiredError extends LatchkeyError {
  get linkTokenRequest(): Record<string, unknown> | null {
    return (this.details?.["link_token_request"] as Record<string, unknown> | undefined) ?? null;
  }
}
export class ConnectionConfigurationRequiredError extends LatchkeyError {}
/** Some requested scopes were not granted; `missingScopes` names them. */
export class ScopeNotGrantedError extends LatchkeyError {
  get missingScopes(): string[] {
    const missing = this.details?.["missing_scopes"];
    return Array.isArray(missing) ? missing.filter((s): s is string => typeof s === "string") : [];
  }
}
export class TokenRefreshFailedError extends LatchkeyError {
  get linkTokenRequest(): Record<string, unknown> | null {
    return (this.details?.["link_token_request"] as Record<string, unknown> | undefined) ?? null;
  }
}
export class UpstreamUnavailableError extends LatchkeyError {}
export class RateLimitedError extends LatchkeyError {}
export class RefreshWaitTimeoutError extends LatchkeyError {}
export class NarrowingUnsupportedError extends LatchkeyError {}
export class LinkTokenInvalidError extends LatchkeyError {}
export class RedirectUrlNotAllowedError extends LatchkeyError {}
export class RedirectUrlRequiredError extends LatchkeyError {}
export class OriginNotAllowedError extends LatchkeyError {}
export class ConnectorNotAllowedError extends LatchkeyError {}
export class ConnectionNotFoundError extends LatchkeyError {}
export class PublicTokenInvalidError extends LatchkeyError {}
export class PayloadTooLargeError extends LatchkeyError {}
export class FieldInvalidError extends LatchkeyError {}
/** A form of the Connect page sent from another site. */
export class CrossSiteRequestError extends LatchkeyError {}
/**
 * `timeout` (503): the request took too long on Latchkey's side; retry. Not named `TimeoutError`,
 * the name of the DOMException an aborted fetch rejects with.
 */
export class RequestTimeoutError extends LatchkeyError {}
/** The connector's configuration is wrong (an operator's fix). */
export class ConnectorMisconfiguredError extends LatchkeyError {}
/** The outbound policy refused the destination (the proxy's, or a provider endpoint); nothing was sent. */
export class DestinationNotAllowedError extends LatchkeyError {}
/** The proxied path or query would leave the connector's API base, or is not acceptable. */
export class ProxyPathInvalidError extends LatchkeyError {}
/** The connector declares no API Latchkey can proxy: use `getToken` and call the provider yourself. */
export class ConnectorNotProxyableError extends LatchkeyError {}
/** The proxy could not reach the provider (nothing came back; the request may or may not have arrived). */
export class UpstreamUnreachableError extends LatchkeyError {}
// The Connect flow's codes (the hosted pages and `onExit` show them; an API call rarely sees them).
export class StateMissingError extends LatchkeyError {}
export class StateInvalidError extends LatchkeyError {}
export class StateMismatchError extends LatchkeyError {}
export class IssuerMismatchError extends LatchkeyError {}
// The provider's OAuth error codes (RFC 6749 4.1.2.1 and OpenID Connect), as the provider sent them.
export class AccessDeniedError extends LatchkeyError {}
export class InvalidScopeError extends LatchkeyError {}
export class ServerError extends LatchkeyError {}
export class TemporarilyUnavailableError extends LatchkeyError {}
export class UnauthorizedClientError extends LatchkeyError {}
export class UnsupportedResponseTypeError extends LatchkeyError {}
export class ConsentRequiredError extends LatchkeyError {}
export class LoginRequiredError extends LatchkeyError {}
export class InteractionRequiredError extends LatchkeyError {}
/** Any other refusal from the provider. */
export class ProviderError extends LatchkeyError {}
export class CodeExchangeFailedError extends LatchkeyError {}
export class ProviderUnavailableError extends LatchkeyError {}
// The sandbox provider's own API (`/sandbox/...`), where a call reaches it directly.
export class SandboxRequestInvalidError extends LatchkeyError {}
export class SandboxUnavailableError extends LatchkeyError {}
/** The sandbox's token lacks the scope this sandbox route needs. */
export class InsufficientScopeError extends LatchkeyError {}

type ErrorClass = new (init: LatchkeyErrorInit) => LatchkeyError;

/** The class of each code. */
export const ERROR_CLASSES: Readonly<Record<ErrorCode, ErrorClass>> = Object.freeze({
  unauthenticated: UnauthenticatedError,
  invalid_request: InvalidRequestError,
  invalid_cursor: InvalidCursorError,
  invalid_json: InvalidJsonError,
  not_found: NotFoundError,
  route_not_found: RouteNotFoundError,
  method_not_allowed: MethodNotAllowedError,
  conflict: ConflictError,
  unavailable: UnavailableError,
  internal_error: InternalError,
  connector_not_found: ConnectorNotFoundError,
  client_not_linked_to_project: ClientNotLinkedToProjectError,
  client_not_enabled_for_environment: ClientNotEnabledForEnvironmentError,
  subject_not_allowed: SubjectNotAllowedError,
  connector_installation_required: ConnectorInstallationRequiredError,
  user_authorization_required: UserAuthorizationRequiredError,
  connection_configuration_required: ConnectionConfigurationRequiredError,
  scope_not_granted: ScopeNotGrantedError,
  token_refresh_failed: TokenRefreshFailedError,
  upstream_unavailable: UpstreamUnavailableError,
  rate_limited: RateLimitedError,
  refresh_wait_timeout: RefreshWaitTimeoutError,
  narrowing_unsupported: NarrowingUnsupportedError,
  link_token_invalid: LinkTokenInvalidError,
  redirect_url_not_allowed: RedirectUrlNotAllowedError,
  redirect_url_required: RedirectUrlRequiredError,
  origin_not_allowed: OriginNotAllowedError,
  connector_not_allowed: ConnectorNotAllowedError,
  connection_not_found: ConnectionNotFoundError,
  public_token_invalid: PublicTokenInvalidError,
  payload_too_large: PayloadTooLargeError,
  field_invalid: FieldInvalidError,
  cross_site_request: CrossSiteRequestError,
  timeout: RequestTimeoutError,
  connector_misconfigured: ConnectorMisconfiguredError,
  destination_not_allowed: DestinationNotAllowedError,
  proxy_path_invalid: ProxyPathInvalidError,
  connector_not_proxyable: ConnectorNotProxyableError,
  upstream_unreachable: UpstreamUnreachableError,
  state_missing: StateMissingError,
  state_invalid: StateInvalidError,
  state_mismatch: StateMismatchError,
  issuer_mismatch: IssuerMismatchError,
  access_denied: AccessDeniedError,
  invalid_scope: InvalidScopeError,
  server_error: ServerError,
  temporarily_unavailable: TemporarilyUnavailableError,
  unauthorized_client: UnauthorizedClientError,
  unsupported_response_type: UnsupportedResponseTypeError,
  consent_required: ConsentRequiredError,
  login_required: LoginRequiredError,
  interaction_required: InteractionRequiredError,
  provider_error: ProviderError,
  code_exchange_failed: CodeExchangeFailedError,
  provider_unavailable: ProviderUnavailableError,
  sandbox_request_invalid: SandboxRequestInvalidError,
  sandbox_unavailable: SandboxUnavailableError,
  insufficient_scope: InsufficientScopeError,
});

/** Seconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
export function parseRetryAfter(value: string | null, nowMs: number = Date.now()): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - nowMs) / 1000));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The error for a failed answer: its status, its parsed JSON body (or undefined when the body was
 * not JSON) and its Retry-After header. Never throws; an unknown code is a plain `LatchkeyError`.
 */
export function errorFromResponse(status: number, body: unknown, retryAfterHeader: string | null = null): LatchkeyError {
  const retryAfter = parseRetryAfter(retryAfterHeader);
  const error = isRecord(body) && isRecord(body["error"]) ? body["error"] : null;
  if (!error || typeof error["code"] !== "string") {
    return new LatchkeyError({ code: "unexpected_response", message: `Latchkey answered HTTP ${status} without an error body`, status, retryAfter });
  }
  const code = error["code"];
  const message = typeof error["message"] === "string" ? error["message"] : code;
  const details = isRecord(error["details"]) ? error["details"] : null;
  const Class: ErrorClass = (ERROR_CLASSES as Record<string, ErrorClass>)[code] ?? LatchkeyError;
  return new Class({ code, message, status, details, retryAfter });
}
