"""Errors: one class per stable code of Latchkey's API, all subclasses of :class:`LatchkeyError`.

Messages come from the server (which never puts a secret in them) or are fixed strings of this
SDK; no credential, token or request body is ever part of an error.
"""

from __future__ import annotations

import email.utils
import time
from typing import Any, Dict, List, Mapping, Optional, Type

ERROR_CODES = (
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
)


class LatchkeyError(Exception):
    """A request Latchkey refused, or one that never got an answer from it.

    ``code`` is one of ``ERROR_CODES``, ``connection_error`` / ``unexpected_response`` (this SDK's
    own), or a code newer than this SDK.
    """

    code: str
    status: int
    message: str
    details: Optional[Dict[str, Any]]
    retry_after: Optional[int]

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int,
        details: Optional[Dict[str, Any]] = None,
        retry_after: Optional[int] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed later, unchanged."""
        return self.status in (429, 503) or self.code in ("connection_error", "refresh_wait_timeout")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status}, message={self.message!r})"

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class LatchkeyConnectionError(LatchkeyError):
    """No answer from Latchkey: the connection failed or timed out."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="connection_error", status=0)


class UnauthenticatedError(LatchkeyError):
    pass


class InvalidRequestError(LatchkeyError):
    pass


class InvalidCursorError(LatchkeyError):
    """A listing's cursor that is not one that listing gave (another consumer's, or made up)."""


class InvalidJsonError(LatchkeyError):
    pass


class NotFoundError(LatchkeyError):
    pass


class RouteNotFoundError(LatchkeyError):
    pass


class MethodNotAllowedError(LatchkeyError):
    pass


class ConflictError(LatchkeyError):
    pass


class UnavailableError(LatchkeyError):
    pass


class InternalError(LatchkeyError):
    pass


class ConnectorNotFoundError(LatchkeyError):
    pass


class ClientNotLinkedToProjectError(LatchkeyError):
    pass


class ClientNotEnabledForEnvironmentError(LatchkeyError):
    pass


class SubjectNotAllowedError(LatchkeyError):
    pass


class ConnectorInstallationRequiredError(LatchkeyError):
    pass


class UserAuthorizationRequiredError(LatchkeyError):
    """The user must authorize (again); ``link_token_request`` is the request that fixes it."""

    @property
    def link_token_request(self) -> Optional[Dict[str, Any]]:
        value = (self.details or {}).get("link_token_request")
        return value if isinstance(value, dict) else None


class ConnectionConfigurationRequiredError(LatchkeyError):
    pass


class ScopeNotGrantedError(LatchkeyError):
    """Some requested scopes were not granted; ``missing_scopes`` names them."""

    @property
    def missing_scopes(self) -> List[str]:
        value = (self.details or {}).get("missing_scopes")
        return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


class TokenRefreshFailedError(LatchkeyError):
    @property
    def link_token_request(self) -> Optional[Dict[str, Any]]:
        value = (self.details or {}).get("link_token_request")
        return value if isinstance(value, dict) else None


class UpstreamUnavailableError(LatchkeyError):
    pass


class RateLimitedError(LatchkeyError):
    pass


class RedirectUrlRequiredError(LatchkeyError):
    pass


class RefreshWaitTimeoutError(LatchkeyError):
    pass


class NarrowingUnsupportedError(LatchkeyError):
    pass


class LinkTokenInvalidError(LatchkeyError):
    pass


class RedirectUrlNotAllowedError(LatchkeyError):
    pass


class OriginNotAllowedError(LatchkeyError):
    pass


class ConnectorNotAllowedError(LatchkeyError):
    pass


class ConnectionNotFoundError(LatchkeyError):
    pass


class PublicTokenInvalidError(LatchkeyError):
    pass


class PayloadTooLargeError(LatchkeyError):
    pass


class FieldInvalidError(LatchkeyError):
    pass


class CrossSiteRequestError(LatchkeyError):
    """A form of the Connect page sent from another site."""


class RequestTimeoutError(LatchkeyError):
    """``timeout`` (503): the request took too long on Latchkey's side; retry.

    Not named ``TimeoutError``, which would shadow Python's built-in."""


class ConnectorMisconfiguredError(LatchkeyError):
    """The connector's configuration is wrong (an operator's fix)."""


class DestinationNotAllowedError(LatchkeyError):
    """The outbound policy refused the destination (the proxy's, or a provider endpoint); nothing was sent."""


class ProxyPathInvalidError(LatchkeyError):
    """The proxied path or query would leave the connector's API base, or is not acceptable."""


class ConnectorNotProxyableError(LatchkeyError):
    """The connector declares no API Latchkey can proxy: use ``get_token`` and call the provider yourself."""


class UpstreamUnreachableError(LatchkeyError):
    """The proxy could not reach the provider (nothing came back; the request may or may not have arrived)."""


# The Connect flow's codes (the hosted pages show them; an API call rarely sees them).


class StateMissingError(LatchkeyError):
    pass


class StateInvalidError(LatchkeyError):
    pass


class StateMismatchError(LatchkeyError):
    pass


class IssuerMismatchError(LatchkeyError):
    pass


# The provider's OAuth error codes (RFC 6749 4.1.2.1 and OpenID Connect), as the provider sent them.


class AccessDeniedError(LatchkeyError):
    pass


class InvalidScopeError(LatchkeyError):
    pass


class ServerError(LatchkeyError):
    pass


class TemporarilyUnavailableError(LatchkeyError):
    pass


class UnauthorizedClientError(LatchkeyError):
    pass


class UnsupportedResponseTypeError(LatchkeyError):
    pass


class ConsentRequiredError(LatchkeyError):
    pass


class LoginRequiredError(LatchkeyError):
    pass


class InteractionRequiredError(LatchkeyError):
    pass


class ProviderError(LatchkeyError):
    """Any other refusal from the provider."""


class CodeExchangeFailedError(LatchkeyError):
    pass


class ProviderUnavailableError(LatchkeyError):
    pass


# The sandbox provider's own API (``/sandbox/...``), where a call reaches it directly.


class SandboxRequestInvalidError(LatchkeyError):
    pass


class SandboxUnavailableError(LatchkeyError):
    pass


class InsufficientScopeError(LatchkeyError):
    """The sandbox's token lacks the scope this sandbox route needs."""


ERROR_CLASSES: Mapping[str, Type[LatchkeyError]] = {
    "unauthenticated": UnauthenticatedError,
    "invalid_request": InvalidRequestError,
    "invalid_cursor": InvalidCursorError,
    "invalid_json": InvalidJsonError,
    "not_found": NotFoundError,
    "route_not_found": RouteNotFoundError,
    "method_not_allowed": MethodNotAllowedError,
    "conflict": ConflictError,
    "unavailable": UnavailableError,
    "internal_error": InternalError,
    "connector_not_found": ConnectorNotFoundError,
    "client_not_linked_to_project": ClientNotLinkedToProjectError,
    "client_not_enabled_for_environment": ClientNotEnabledForEnvironmentError,
    "subject_not_allowed": SubjectNotAllowedError,
    "connector_installation_required": ConnectorInstallationRequiredError,
    "user_authorization_required": UserAuthorizationRequiredError,
    "connection_configuration_required": ConnectionConfigurationRequiredError,
    "scope_not_granted": ScopeNotGrantedError,
    "token_refresh_failed": TokenRefreshFailedError,
    "upstream_unavailable": UpstreamUnavailableError,
    "rate_limited": RateLimitedError,
    "refresh_wait_timeout": RefreshWaitTimeoutError,
    "narrowing_unsupported": NarrowingUnsupportedError,
    "link_token_invalid": LinkTokenInvalidError,
    "redirect_url_not_allowed": RedirectUrlNotAllowedError,
    "redirect_url_required": RedirectUrlRequiredError,
    "origin_not_allowed": OriginNotAllowedError,
    "connector_not_allowed": ConnectorNotAllowedError,
    "connection_not_found": ConnectionNotFoundError,
    "public_token_invalid": PublicTokenInvalidError,
    "payload_too_large": PayloadTooLargeError,
    "field_invalid": FieldInvalidError,
    "cross_site_request": CrossSiteRequestError,
    "timeout": RequestTimeoutError,
    "connector_misconfigured": ConnectorMisconfiguredError,
    "destination_not_allowed": DestinationNotAllowedError,
    "proxy_path_invalid": ProxyPathInvalidError,
    "connector_not_proxyable": ConnectorNotProxyableError,
    "upstream_unreachable": UpstreamUnreachableError,
    "state_missing": StateMissingError,
    "state_invalid": StateInvalidError,
    "state_mismatch": StateMismatchError,
    "issuer_mismatch": IssuerMismatchError,
    "access_denied": AccessDeniedError,
    "invalid_scope": InvalidScopeError,
    "server_error": ServerError,
    "temporarily_unavailable": TemporarilyUnavailableError,
    "unauthorized_client": UnauthorizedClientError,
    "unsupported_response_type": UnsupportedResponseTypeError,
    "consent_required": ConsentRequiredError,
    "login_required": LoginRequiredError,
    "interaction_required": InteractionRequiredError,
    "provider_error": ProviderError,
    "code_exchange_failed": CodeExchangeFailedError,
    "provider_unavailable": ProviderUnavailableError,
    "sandbox_request_invalid": SandboxRequestInvalidError,
    "sandbox_unavailable": SandboxUnavailableError,
    "insufficient_scope": InsufficientScopeError,
}


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[int]:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    delta = when.timestamp() - (time.time() if now is None else now)
    return max(0, int(delta + 0.999))


def error_from_response(status: int, body: Any, retry_after_header: Optional[str] = None) -> LatchkeyError:
    """The error for a failed answer; never raises. An unknown code is a plain :class:`LatchkeyError`."""
    retry_after = parse_retry_after(retry_after_header)
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str):
        return LatchkeyError(
            f"Latchkey answered HTTP {status} without an error body",
            code="unexpected_response",
            status=status,
            retry_after=retry_after,
        )
    code: str = error["code"]
    message = error.get("message")
    details = error.get("details")
    cls = ERROR_CLASSES.get(code, LatchkeyError)
    return cls(
        message if isinstance(message, str) else code,
        code=code,
        status=status,
        details=details if isinstance(details, dict) else None,
        retry_after=retry_after,
    )
