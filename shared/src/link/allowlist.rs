//! Where the link flow may send a browser or a message: only to the project's allowed origins.
//!
//! A URL is parsed once with the WHATWG parser and compared by its serialized origin, so
//! `//evil.example`, `https://app.example@evil.example`, `https://app.example.evil.example` and
//! percent-encoded variants fall out without a list of tricks to remember.

use super::LinkError;
use crate::model::Project;

/// Checks an absolute `http(s)` URL whose origin is one of the project's; returns it normalized.
pub fn allowed_redirect_url(project: &Project, raw: &str) -> Result<String, LinkError> {
    let url = parse_absolute(raw).ok_or(LinkError::RedirectUrlNotAllowed)?;
    if url.fragment().is_some() || !project.allowed_origins.contains(&url.origin().ascii_serialization()) {
        return Err(LinkError::RedirectUrlNotAllowed);
    }
    Ok(url.to_string())
}

/// Checks that `raw` is exactly one of the project's origins.
pub fn allowed_origin(project: &Project, raw: &str) -> Result<String, LinkError> {
    let url = parse_absolute(raw).ok_or(LinkError::OriginNotAllowed)?;
    let origin = url.origin().ascii_serialization();
    // An origin has no path: `https://app.example/x` is a URL, not an origin.
    if raw.trim_end_matches('/') != origin || !project.allowed_origins.contains(&origin) {
        return Err(LinkError::OriginNotAllowed);
    }
    Ok(origin)
}

fn parse_absolute(raw: &str) -> Option<url::Url> {
    // Browsers treat `\` like `/` and drop tabs and newlines; refuse such input outright rather
    // than guess which reading a browser will make.
    if raw.len() > 2048 || raw.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace()) {
        return None;
    }
    if !(raw.starts_with("https://") || raw.starts_with("http://")) {
        return None;
    }
    let url = url::Url::parse(raw).ok()?;
    let plain = url.username().is_empty() && url.password().is_none() && url.host_str().is_some();
    plain.then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProjectId;

    fn project() -> Project {
        Project {
            id: ProjectId::generate(),
            name: "p".into(),
            display_name: None,
            logo_url: None,
            environments: vec![],
            allowed_origins: vec!["https://app.example.com".into(), "http://127.0.0.1:3000".into()],
            trusted_issuers: vec![],
            webhooks: vec![],
            created_at: crate::Timestamp(0),
        }
    }

    #[test]
    fn redirect_urls_must_be_on_an_allowed_origin() {
        let p = project();
        assert_eq!(allowed_redirect_url(&p, "https://app.example.com/done?x=1").unwrap(), "https://app.example.com/done?x=1");
        assert!(allowed_redirect_url(&p, "http://127.0.0.1:3000/cb").is_ok());
        for bad in [
            "https://evil.example/done",
            "//evil.example",
            "https://app.example.com.evil.example/",
            "https://app.example.com@evil.example/",
            "https:%2F%2Fevil.example",
            "https:/\\evil.example",
            "https://app.example.com:444/",
            "http://app.example.com/",
            "javascript:alert(1)",
            "/relative",
            "https://evil.example%2F@app.example.com",
            "https://app.example.com/#frag",
            "https://app.example.com\t/",
        ] {
            assert!(allowed_redirect_url(&p, bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn origins_must_match_exactly() {
        let p = project();
        assert_eq!(allowed_origin(&p, "https://app.example.com").unwrap(), "https://app.example.com");
        for bad in ["https://app.example.com/path", "https://evil.example", "null", "https://app.example.com:8443"] {
            assert!(allowed_origin(&p, bad).is_err(), "{bad}");
        }
    }
}
