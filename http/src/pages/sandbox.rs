//! The sandbox provider's own pages: its consent page, its home (where the demo link returns, with
//! the next steps to try), and its refusals. They are the provider's pages, not the Connect
//! page's, so they speak English only; like every page they escape every value.

use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};

use latchkey::sandbox::authorize::Consent;

use super::Page;

/// What each scope lets the app do, as the consent page says it.
fn scope_text(scope: &str) -> &'static str {
    match scope {
        "profile" => "See your sandbox account's name and id",
        "items:read" => "Read your sandbox items",
        _ => "An unknown permission",
    }
}

fn banner() -> Markup {
    html! {
        p.sandbox-banner { strong { "Latchkey Sandbox" } " · a test provider built into Latchkey. No real account is used." }
    }
}

/// The consent page: which app asks for what, a sandbox account name, Allow and Deny.
pub fn consent_page(consent: &Consent) -> Response {
    let body = html! {
        (banner())
        h1 { "Allow " (consent.client_name) " to use your sandbox account?" }
        p.lead { (consent.client_name) " is asking for:" }
        ul.scopes {
            @for scope in &consent.scopes { li { (scope_text(scope)) " " code { (scope) } } }
        }
        form method="post" action="/sandbox/authorize" {
            input type="hidden" name="request" value=(consent.request_id.expose());
            label for="account" { "Sandbox account name" }
            input #account name="account" value="Ada Lovelace" required maxlength="64" autocomplete="off";
            div.actions {
                button type="submit" class="primary" name="decision" value="allow" id="approve" { "Allow" }
                button type="submit" class="secondary" name="decision" value="deny" id="deny" { "Deny" }
            }
        }
    };
    let form_targets = vec![consent.redirect_origin.clone()];
    Page { form_targets, lang: "en", ..Page::plain(StatusCode::OK, "Sandbox: allow access?", body) }.into_response()
}

/// The next commands to try once the demo link returned here with a public token.
fn next_steps(base: &str, public_token: &str) -> Markup {
    let exchange =
        format!("curl -s {base}/v1/link/exchange -H \"Authorization: Bearer $LATCHKEY_SECRET_KEY\" \\\n  -d '{{\"public_token\": \"{public_token}\"}}'");
    let token = format!(
        "curl -s {base}/v1/token/sandbox%2Fdemo -H \"Authorization: Bearer $CONNECTION_TOKEN\" \\\n  -d '{{\"subject\": {{\"type\": \"user\", \"id\": \"demo-user\"}}}}'"
    );
    let call = format!("curl -s {base}/sandbox/api/me -H \"Authorization: Bearer $SANDBOX_TOKEN\"");
    html! {
        h2 { "Next" }
        ol.steps {
            li {
                "Exchange the public token (once, within 30 minutes) with the demo secret key " code { "latchkey serve" } " printed; "
                "the answer's " code { "access_token" } " (" code { "lk_conn_..." } ") is your backend's credential for this connection:"
                pre { code { (exchange) } }
            }
            li {
                "Ask the token broker for the sandbox's token with it (" code { "CONNECTION_TOKEN" } "). It lives 30 seconds: "
                "ask again after 20 and you get a new one, because Latchkey refreshed it (and the sandbox rotated its refresh token):"
                pre { code { (token) } }
            }
            li { "Call the sandbox's API with that token (" code { "SANDBOX_TOKEN" } "):" pre { code { (call) } } }
        }
    }
}

/// `GET /sandbox`: what the sandbox is; where the demo link returns (`?public_token=` or `?error=`).
pub fn home_page(base: &str, public_token: Option<&str>, error: Option<&str>) -> Response {
    let metadata = format!("{base}/sandbox/.well-known/oauth-authorization-server");
    let body = html! {
        (banner())
        @match (public_token, error) {
            (Some(token), _) => {
                div.outcome."outcome-ok" { h1 { "Connected to the sandbox" } p.lead { "Your app received a public token:" } }
                pre { code #public-token { (token) } }
                (next_steps(base, token))
            },
            (None, Some(error)) => {
                div.outcome."outcome-bad" { h1 { "Not connected" } p.lead { "The Connect page ended with " code #error { (error) } "." } }
            },
            (None, None) => {
                h1 { "The Latchkey Sandbox" }
                p.lead { "A real OAuth 2.0 authorization server inside Latchkey, to try every flow without a provider account: PKCE (S256) required, the issuer in every response (RFC 9207), rotating refresh tokens with reuse detection, RFC 7009 revocation, and a small API." }
            },
        }
        p { "Its metadata (RFC 8414): " a href=(metadata) { (metadata) } }
    };
    Page { lang: "en", ..Page::plain(StatusCode::OK, "Latchkey Sandbox", body) }.into_response()
}

/// A refusal the sandbox shows rather than sends to the app (an unknown client, a redirect URI it
/// did not register, a consent that expired).
pub fn problem_page(status: StatusCode, message: &str) -> Response {
    let body = html! {
        (banner())
        div.outcome."outcome-bad" { h1 { "The sandbox cannot go on" } p.lead { (message) } }
    };
    Page { lang: "en", ..Page::plain(status, "Sandbox: cannot go on", body) }.into_response()
}
