//! The pages people see: the Connect page and the result of a connection. Server-rendered HTML,
//! no third-party assets, one nonce'd inline script and style per page, and headers that keep the
//! page to itself: a strict Content-Security-Policy, `Referrer-Policy: no-referrer` (the URL holds
//! a link token), and framing only by the app origin that opened the modal.

mod connect;
mod result;

pub use connect::render_connect_page;
pub use result::{render_error_page, render_result_page, ResultMessage};

use super::Response;
use crate::secret::random_token;

/// The stylesheet every page shares.
const STYLE: &str = include_str!("../../../assets/connect.css");

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// JSON safe to embed in a `<script type="application/json">` block.
pub fn script_json(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026")
}

/// One page to send.
pub struct Page<'a> {
    /// HTTP status.
    pub status: http::StatusCode,
    /// The `<title>`.
    pub title: &'a str,
    /// The `<body>` content (already escaped).
    pub body: String,
    /// A script to run, if any.
    pub script: Option<&'a str>,
    /// Origins forms may submit to (and be redirected to) besides this one.
    pub form_targets: Vec<String>,
    /// The app origin allowed to frame the page (modal mode).
    pub frame_ancestor: Option<String>,
    /// The accent colour of a session's theme (`#rrggbb`, checked when the session was made).
    pub accent: Option<String>,
    /// An origin images may come from besides this one (a session theme's logo).
    pub image_origin: Option<String>,
}

impl Page<'_> {
    /// The response, with its security headers.
    pub fn into_response(self) -> Response {
        let nonce = random_token(16);
        let nonce = nonce.expose();
        let script = self.script.map(|s| format!("<script nonce=\"{nonce}\">{s}</script>")).unwrap_or_default();
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{title}</title><style nonce=\"{nonce}\">{STYLE}{accent}</style></head>\
             <body><main class=\"card\">{body}</main>{script}</body></html>",
            title = escape(self.title),
            body = self.body,
            accent = self
                .accent
                .as_deref()
                .filter(|c| c.len() == 7 && c[1..].chars().all(|h| h.is_ascii_hexdigit()))
                .map(|c| format!(":root{{--accent:{c}}}"))
                .unwrap_or_default(),
        );
        let form_action = std::iter::once("'self'".to_owned()).chain(self.form_targets).collect::<Vec<_>>().join(" ");
        let frame_ancestors = self.frame_ancestor.clone().unwrap_or_else(|| "'none'".into());
        let images = self.image_origin.as_deref().map(|o| format!(" {o}")).unwrap_or_default();
        let csp = format!(
            "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; img-src 'self' data:{images}; \
             form-action {form_action}; frame-ancestors {frame_ancestors}; base-uri 'none'"
        );
        let mut builder = http::Response::builder()
            .status(self.status)
            .header(http::header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(http::header::CONTENT_SECURITY_POLICY, csp)
            .header(http::header::REFERRER_POLICY, "no-referrer")
            .header("cross-origin-opener-policy", "unsafe-none");
        if self.frame_ancestor.is_none() {
            builder = builder.header(http::header::X_FRAME_OPTIONS, "DENY");
        }
        builder.body(lambda_http::Body::Text(html)).expect("static headers")
    }
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
