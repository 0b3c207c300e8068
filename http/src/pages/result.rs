//! The result of a connection attempt, delivered to the app: by `postMessage` in the modal, by a
//! redirect to the link's `redirect_url` in page mode, or shown as a page. A page names what
//! happened in the person's language: connected; the provider did not give access; the provider
//! is not responding; or another reason, with its code.

use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::{json, Value};

use latchkey::link::callback::ResultTarget;
use latchkey::model::ConnectMode;

use super::i18n::{self, Tr};
use super::{script_json, see_other, Page};
use crate::error::ErrorCode;

const SCRIPT: &str = include_str!("../../../shared/assets/result.js");

/// What the app's SDK receives.
pub enum ResultMessage {
    /// Connected: the public token and what the app may show.
    Success {
        /// The one-time public token.
        public_token: String,
        /// Connector uid, name, and the like.
        metadata: Value,
    },
    /// Not connected: a stable code and a message for developers (the page shows its own words).
    Exit {
        /// The code.
        code: ErrorCode,
        /// The message.
        message: String,
    },
}

impl ResultMessage {
    fn to_json(&self) -> Value {
        match self {
            ResultMessage::Success { public_token, metadata } => {
                json!({"source": "latchkey", "type": "success", "public_token": public_token, "metadata": metadata})
            }
            ResultMessage::Exit { code, message } => {
                json!({"source": "latchkey", "type": "exit", "error": {"code": code, "message": message}})
            }
        }
    }
}

/// How an outcome reads: its icon, heading and sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Connected,
    Denied,
    ProviderDown,
    Failed(ErrorCode),
}

impl Outcome {
    fn of(message: &ResultMessage) -> Self {
        match message {
            ResultMessage::Success { .. } => Outcome::Connected,
            ResultMessage::Exit { code: ErrorCode::AccessDenied, .. } => Outcome::Denied,
            ResultMessage::Exit { code: ErrorCode::ProviderUnavailable | ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable, .. } => {
                Outcome::ProviderDown
            }
            ResultMessage::Exit { code, .. } => Outcome::Failed(*code),
        }
    }

    fn class(self) -> &'static str {
        match self {
            Outcome::Connected => "outcome outcome-ok",
            Outcome::ProviderDown => "outcome outcome-wait",
            Outcome::Denied | Outcome::Failed(_) => "outcome outcome-bad",
        }
    }

    fn icon(self) -> Markup {
        super::icon(match self {
            Outcome::Connected => super::Icon::Check,
            Outcome::ProviderDown => super::Icon::Clock,
            Outcome::Denied | Outcome::Failed(_) => super::Icon::Cross,
        })
    }

    fn words(self, tr: Tr, name: &str) -> (String, String) {
        let named = [("name", name)];
        match self {
            Outcome::Connected => (tr.t("result.connected").to_owned(), tr.f("result.connected_text", &named)),
            Outcome::Denied => (tr.t("result.denied").to_owned(), tr.f("result.denied_text", &named)),
            Outcome::ProviderDown => (tr.f("result.down", &named), tr.f("result.down_text", &named)),
            Outcome::Failed(code) => (tr.t("result.not_connected").to_owned(), tr.t(super::error_message_key(code)).to_owned()),
        }
    }
}

/// Delivers `message` to `target`.
pub fn result_page(status: StatusCode, target: &ResultTarget, message: ResultMessage) -> Response {
    if target.mode == ConnectMode::Page {
        if let Some(redirect) = &target.redirect_url {
            return redirect_with(redirect, &message);
        }
    }
    i18n::prefer(target.lang.as_deref());
    let tr = i18n::current();
    let outcome = Outcome::of(&message);
    let fallback = tr.t("result.the_service");
    let (title, text) = outcome.words(tr, target.connector_name.as_deref().unwrap_or(fallback));
    let config = json!({"mode": target.mode, "origin": target.origin, "message": message.to_json()});
    let body = html! {
        div class=(outcome.class()) {
            (outcome.icon())
            h1 { (title) }
            p.lead #result-text { (text) }
            @if let ResultMessage::Exit { code, .. } = &message {
                p.code { (tr.t("error.code")) " " code { (code.as_str()) } }
            }
        }
        script type="application/json" #latchkey-result { (script_json(&config)) }
    };
    Page { script: Some(SCRIPT), frame_ancestor: target.origin.clone(), lang: tr.code(), ..Page::plain(status, &title, body) }.into_response()
}

fn redirect_with(redirect: &str, message: &ResultMessage) -> Response {
    let Ok(mut url) = url::Url::parse(redirect) else {
        return super::error_page(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::InternalError);
    };
    match message {
        ResultMessage::Success { public_token, .. } => url.query_pairs_mut().append_pair("public_token", public_token),
        ResultMessage::Exit { code, .. } => url.query_pairs_mut().append_pair("error", code.as_str()),
    };
    see_other(url.as_str())
}
