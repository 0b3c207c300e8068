//! The result of a connection attempt, delivered to the app: by `postMessage` in the modal, by a
//! redirect to the link's `redirect_url` in page mode, or shown as a page.

use axum::http::StatusCode;
use axum::response::Response;
use maud::html;
use serde_json::{json, Value};

use latchkey::link::callback::ResultTarget;
use latchkey::model::ConnectMode;

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
    /// Not connected: a stable code and a message for people.
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

/// Delivers `message` to `target`.
pub fn result_page(status: StatusCode, target: &ResultTarget, message: ResultMessage) -> Response {
    if target.mode == ConnectMode::Page {
        if let Some(redirect) = &target.redirect_url {
            return redirect_with(redirect, &message);
        }
    }
    let (title, text) = match &message {
        ResultMessage::Success { metadata, .. } => {
            ("Connected", format!("{} is connected. You can close this window.", metadata["connector"]["name"].as_str().unwrap_or("The account")))
        }
        ResultMessage::Exit { message, .. } => ("Not connected", message.clone()),
    };
    let config = json!({"mode": target.mode, "origin": target.origin, "message": message.to_json()});
    let body = html! {
        h1 { (title) }
        p.lead #result-text { (text) }
        @if let ResultMessage::Exit { code, .. } = &message {
            p.code { "Error code: " code { (code.as_str()) } }
        }
        script type="application/json" #latchkey-result { (script_json(&config)) }
    };
    Page { script: Some(SCRIPT), frame_ancestor: target.origin.clone(), ..Page::plain(status, title, body) }.into_response()
}

fn redirect_with(redirect: &str, message: &ResultMessage) -> Response {
    let Ok(mut url) = url::Url::parse(redirect) else {
        return super::error_page(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::InternalError, "The return address is invalid.");
    };
    match message {
        ResultMessage::Success { public_token, .. } => url.query_pairs_mut().append_pair("public_token", public_token),
        ResultMessage::Exit { code, .. } => url.query_pairs_mut().append_pair("error", code.as_str()),
    };
    see_other(url.as_str())
}
