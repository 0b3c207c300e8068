//! The pages people see: the Connect page, the authorize confirmation, the result of a
//! connection, errors, and the sandbox provider's own pages. Compile-time templates (maud) that
//! escape every value unless it is marked `PreEscaped`, which only the page's own stylesheet,
//! scripts and icons are. No third-party assets, one nonce'd script and stylesheet per page, and
//! headers that keep the page to itself: a strict Content-Security-Policy,
//! `Referrer-Policy: no-referrer` (the URL holds a link token), and framing only by the app origin
//! that opened the modal. Every word of the Connect pages is in the person's language ([`i18n`]).

mod connect;
mod connect_items;
pub mod i18n;
mod result;
pub mod sandbox;

pub use connect::{authorize_confirmation, connect_page};
pub use result::{result_page, ResultMessage};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::error::ErrorCode;

/// The stylesheet every page shares, as written (readable, commented).
const STYLE_SOURCE: &str = include_str!("../../../shared/assets/connect.css");

/// The stylesheet as pages inline it: without comments and layout white space. Done once per
/// process; every page carries it, so the bytes count on each one.
fn style() -> &'static str {
    static STYLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    STYLE.get_or_init(|| minify_css(STYLE_SOURCE))
}

/// Drops comments and collapses white space (none is left beside `{};,>`). Enough for a
/// stylesheet with no strings or URLs in which white space matters, which this one is.
fn minify_css(source: &str) -> String {
    let mut without_comments = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find("/*") {
        without_comments.push_str(&rest[..start]);
        rest = rest[start + 2..].split_once("*/").map_or("", |(_, after)| after);
    }
    without_comments.push_str(rest);
    let collapsed = without_comments.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(collapsed.len());
    let chars: Vec<char> = collapsed.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let tight = |n: Option<&char>| n.is_some_and(|n| "{};,>".contains(*n));
        if c == ' ' && (tight(i.checked_sub(1).and_then(|p| chars.get(p))) || tight(chars.get(i + 1))) {
            continue;
        }
        out.push(c);
    }
    out
}

/// JSON safe inside a `<script type="application/json">` block: nothing in it can close the tag.
pub fn script_json(value: &serde_json::Value) -> PreEscaped<String> {
    PreEscaped(value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026"))
}

/// One page to send.
pub struct Page<'a> {
    /// HTTP status.
    pub status: StatusCode,
    /// The `<title>`.
    pub title: &'a str,
    /// The `<main>` content.
    pub body: Markup,
    /// The page's script, if any (one of the crate's own assets).
    pub script: Option<&'static str>,
    /// Origins forms may submit to (and be redirected to) besides this one.
    pub form_targets: Vec<String>,
    /// The app origin allowed to frame the page (modal mode).
    pub frame_ancestor: Option<String>,
    /// The accent colour of a session's theme (`#rrggbb`, checked when the session was made).
    pub accent: Option<String>,
    /// An origin images may come from besides this one (a session theme's logo).
    pub image_origin: Option<String>,
    /// The language of the page.
    pub lang: &'a str,
}

impl Page<'_> {
    /// A page with `title` and `body` and nothing else.
    pub fn plain(status: StatusCode, title: &str, body: Markup) -> Page<'_> {
        let lang = i18n::current().code();
        Page { status, title, body, script: None, form_targets: Vec::new(), frame_ancestor: None, accent: None, image_origin: None, lang }
    }

    fn accent_rule(&self) -> String {
        self.accent
            .as_deref()
            .filter(|c| c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|h| h.is_ascii_hexdigit()))
            .map(|c| format!(":root{{--accent:{c}}}"))
            .unwrap_or_default()
    }

    /// The response, with its security headers.
    pub fn into_response(self) -> Response {
        let nonce = latchkey::secret::random_token(16);
        let nonce = nonce.expose();
        let markup = html! {
            (DOCTYPE)
            html lang=(self.lang) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (self.title) }
                    style nonce=(nonce) { (PreEscaped(style())) (PreEscaped(self.accent_rule())) }
                }
                body {
                    main.card { (self.body) }
                    @if let Some(script) = self.script {
                        script nonce=(nonce) { (PreEscaped(script)) }
                    }
                }
            }
        };
        let form_action = std::iter::once("'self'".to_owned()).chain(self.form_targets).collect::<Vec<_>>().join(" ");
        let frame_ancestors = self.frame_ancestor.clone().unwrap_or_else(|| "'none'".into());
        let images = self.image_origin.as_deref().map(|o| format!(" {o}")).unwrap_or_default();
        let csp = format!(
            "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data:{images}; \
             form-action {form_action}; frame-ancestors {frame_ancestors}; base-uri 'none'"
        );
        let mut response = (self.status, axum::response::Html(markup.into_string())).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        if let Ok(csp) = HeaderValue::from_str(&csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert("cross-origin-opener-policy", HeaderValue::from_static("unsafe-none"));
        if self.frame_ancestor.is_none() {
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
        response
    }
}

/// A page for a failure with nowhere to deliver it (the flow itself could not be identified), in
/// the page's language: what happened, and the stable code for the app's support.
pub fn error_page(status: StatusCode, code: ErrorCode) -> Response {
    let tr = i18n::current();
    let heading = match code {
        ErrorCode::LinkTokenInvalid => tr.t("error.expired_heading"),
        _ => tr.t("error.heading"),
    };
    let body = html! {
        div.outcome."outcome-bad" {
            (icon(Icon::Cross))
            h1 { (heading) }
            p.lead { (tr.t(error_message_key(code))) }
            p.code { (tr.t("error.code")) " " code { (code.as_str()) } }
        }
    };
    Page::plain(status, heading, body).into_response()
}

/// The message a page shows for `code`: one of its own where people meet it, a shared one for the
/// provider's OAuth errors, a general one for codes only the JSON API answers.
pub fn error_message_key(code: ErrorCode) -> &'static str {
    use ErrorCode::*;
    match code {
        LinkTokenInvalid => "error.link_token_invalid",
        RedirectUrlRequired => "error.redirect_url_required",
        RedirectUrlNotAllowed => "error.redirect_url_not_allowed",
        OriginNotAllowed => "error.origin_not_allowed",
        ConnectorNotAllowed => "error.connector_not_allowed",
        ConnectorMisconfigured | DestinationNotAllowed => "error.connector_misconfigured",
        ConnectionNotFound | NotFound => "error.connection_not_found",
        StateMissing | StateInvalid => "error.state_invalid",
        StateMismatch => "error.state_mismatch",
        IssuerMismatch => "error.issuer_mismatch",
        AccessDenied => "error.access_denied",
        ServerError | TemporarilyUnavailable | ProviderUnavailable => "error.provider_unavailable",
        InvalidScope | UnauthorizedClient | UnsupportedResponseType | ConsentRequired | LoginRequired | InteractionRequired | ProviderError => {
            "error.provider_error"
        }
        CodeExchangeFailed => "error.code_exchange_failed",
        CrossSiteRequest => "error.cross_site_request",
        FieldInvalid => "error.field_invalid",
        InvalidRequest | InvalidJson | PayloadTooLarge => "error.invalid_request",
        Conflict => "error.conflict",
        InternalError => "error.internal_error",
        Unavailable | Timeout | UpstreamUnavailable | RefreshWaitTimeout | RateLimited => "error.unavailable",
        _ => "error.generic",
    }
}

/// The outcome icons pages draw.
#[derive(Debug, Clone, Copy)]
pub enum Icon {
    /// Done.
    Check,
    /// Waiting on someone else.
    Clock,
    /// Not done.
    Cross,
}

/// An icon drawn inline (the pages load nothing) in the outcome's colour, hidden from assistive
/// technology: the heading beside it says the same.
pub fn icon(icon: Icon) -> Markup {
    let path = match icon {
        Icon::Check => "M7 12.5l3.2 3.2L17 9",
        Icon::Clock => "M12 7v5l3 2",
        Icon::Cross => "M8.5 8.5l7 7M15.5 8.5l-7 7",
    };
    PreEscaped(format!(
        "<svg class=\"icon\" viewBox=\"0 0 24 24\" width=\"48\" height=\"48\" aria-hidden=\"true\" focusable=\"false\">\
         <circle cx=\"12\" cy=\"12\" r=\"10\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\"/>\
         <path d=\"{path}\" fill=\"none\" stroke=\"currentColor\" stroke-width=\"2\" stroke-linecap=\"round\" stroke-linejoin=\"round\"/></svg>"
    ))
}

/// A `303 See Other` to `location`, with no referrer (the page's URL holds a link token).
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The monogram shown for a connector: up to two letters of its name.
pub fn monogram(name: &str) -> String {
    let words: Vec<&str> = name.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let letters: String = match words.as_slice() {
        [] => "?".into(),
        // One word: its initial and its next capital (HubSpot → HS, Slack → S).
        [word] => word.chars().take(1).chain(word.chars().skip(1).filter(|c| c.is_uppercase()).take(1)).collect(),
        _ => words.iter().filter_map(|w| w.chars().next()).take(2).collect(),
    };
    letters.to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_script_json_cannot_close_its_tag() {
        let markup = html! { p title=("\"><script>") { ("<b>&") } };
        assert_eq!(markup.into_string(), "<p title=\"&quot;&gt;&lt;script&gt;\">&lt;b&gt;&amp;</p>");
        let json = script_json(&serde_json::json!({"x": "</script><script>alert(1)</script>"}));
        assert!(!json.0.contains("</script>"));
    }

    #[test]
    fn the_stylesheet_is_served_without_comments_or_layout_space() {
        let css = minify_css("/* why */\n.a,\n.b > c {\n  font: 16px \"Segoe UI\", x;\n}\n@media (min-width: 40rem) { .a { margin: 0 auto; } }");
        assert_eq!(css, ".a,.b>c{font: 16px \"Segoe UI\",x;}@media (min-width: 40rem){.a{margin: 0 auto;}}");
        assert!(style().len() < STYLE_SOURCE.len() * 3 / 4 && !style().contains("/*"), "{}", style());
    }

    #[test]
    fn monograms() {
        assert_eq!(monogram("HubSpot"), "HS");
        assert_eq!(monogram("Slack"), "S");
        assert_eq!(monogram("Google Drive"), "GD");
        assert_eq!(monogram(""), "?");
    }
}
