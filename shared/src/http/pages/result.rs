//! The result of a connection attempt, delivered to the app: by `postMessage` in the modal, by a
//! redirect to the link's `redirect_url` in page mode, or shown as a page.

use serde_json::{json, Value};

use super::{escape, script_json, Page};
use crate::http::Response;
use crate::link::callback::ResultTarget;
use crate::model::ConnectMode;

const SCRIPT: &str = include_str!("../../../assets/result.js");

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
        code: String,
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
pub fn render_result_page(status: http::StatusCode, target: &ResultTarget, message: ResultMessage) -> Response {
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
    let code = match &message {
        ResultMessage::Exit { code, .. } => format!("<p class=\"code\">Error code: <code>{}</code></p>", escape(code)),
        ResultMessage::Success { .. } => String::new(),
    };
    let body = format!(
        "<h1>{title}</h1><p class=\"lead\" id=\"result-text\">{text}</p>{code}\
         <script type=\"application/json\" id=\"latchkey-result\">{config}</script>",
        text = escape(&text),
        config = script_json(&json!({"mode": target.mode, "origin": target.origin, "message": message.to_json()})),
    );
    Page { status, title, body, script: Some(SCRIPT), form_targets: Vec::new(), frame_ancestor: target.origin.clone(), accent: None, image_origin: None }
        .into_response()
}

/// A page for a failure with nowhere to deliver it (the flow itself could not be identified).
pub fn render_error_page(status: http::StatusCode, code: &str, message: &str) -> Response {
    let body = format!("<h1>Something went wrong</h1><p class=\"lead\">{}</p><p class=\"code\">Error code: <code>{}</code></p>", escape(message), escape(code));
    Page { status, title: "Something went wrong", body, script: None, form_targets: Vec::new(), frame_ancestor: None, accent: None, image_origin: None }
        .into_response()
}

fn redirect_with(redirect: &str, message: &ResultMessage) -> Response {
    let mut url = match url::Url::parse(redirect) {
        Ok(url) => url,
        Err(_) => return render_error_page(http::StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "The return address is invalid."),
    };
    match message {
        ResultMessage::Success { public_token, .. } => url.query_pairs_mut().append_pair("public_token", public_token),
        ResultMessage::Exit { code, .. } => url.query_pairs_mut().append_pair("error", code),
    };
    http::Response::builder()
        .status(http::StatusCode::SEE_OTHER)
        .header(http::header::LOCATION, url.to_string())
        .header(http::header::REFERRER_POLICY, "no-referrer")
        .body(lambda_http::Body::Empty)
        .expect("static headers")
}
