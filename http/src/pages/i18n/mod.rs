//! The languages the pages speak: message catalogs as data (one JSON file per language beside this
//! one, compiled in), the language a page is shown in, and the checks that keep the catalogs whole.
//!
//! A page speaks the language its link or session asked for (`lang`), else the first of the
//! browser's `Accept-Language` it knows, else English. The browser's choice is read once per
//! request by [`scope`], a layer; a handler that loads a link with a `lang` of its own calls
//! [`prefer`]; a page (an error page too) reads [`current`]. Messages carry `{name}` placeholders,
//! filled by [`Tr::f`] with values the page then escapes like any other.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

/// A language the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English, the fallback.
    En,
    /// German.
    De,
    /// French.
    Fr,
    /// Spanish.
    Es,
    /// Portuguese.
    Pt,
    /// Japanese.
    Ja,
}

const CATALOGS: [(Lang, &str); 6] = [
    (Lang::En, include_str!("en.json")),
    (Lang::De, include_str!("de.json")),
    (Lang::Fr, include_str!("fr.json")),
    (Lang::Es, include_str!("es.json")),
    (Lang::Pt, include_str!("pt.json")),
    (Lang::Ja, include_str!("ja.json")),
];

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 6] = [Lang::En, Lang::De, Lang::Fr, Lang::Es, Lang::Pt, Lang::Ja];

    /// Its BCP 47 tag, as the page's `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Es => "es",
            Lang::Pt => "pt",
            Lang::Ja => "ja",
        }
    }

    /// The language a BCP 47 tag names, by its primary subtag (`pt-BR` → Portuguese), if spoken.
    pub fn of_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|lang| lang.code() == primary)
    }

    /// The first language of an `Accept-Language` header this page speaks, by quality.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut ranked: Vec<(u16, usize, Lang)> = header
            .split(',')
            .take(32)
            .enumerate()
            .filter_map(|(position, item)| {
                let mut parts = item.split(';');
                let lang = Lang::of_tag(parts.next()?)?;
                let quality = parts.find_map(|p| p.trim().strip_prefix("q=")).map_or(Some(1000), quality_millis)?;
                (quality > 0).then_some((quality, position, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.first().map(|(_, _, lang)| *lang)
    }
}

/// A q-value (`0.8`) in thousandths; `None` when it is not one.
fn quality_millis(raw: &str) -> Option<u16> {
    let value: f32 = raw.trim().parse().ok()?;
    (0.0..=1.0).contains(&value).then(|| (value * 1000.0).round() as u16)
}

fn catalogs() -> &'static BTreeMap<&'static str, BTreeMap<String, String>> {
    static PARSED: OnceLock<BTreeMap<&'static str, BTreeMap<String, String>>> = OnceLock::new();
    PARSED.get_or_init(|| {
        CATALOGS
            .iter()
            .map(|(lang, text)| {
                let messages = serde_json::from_str(text).unwrap_or_else(|e| panic!("http/src/pages/i18n/{}.json parses (a test checks it): {e}", lang.code()));
                (lang.code(), messages)
            })
            .collect()
    })
}

/// The messages of one language.
#[derive(Debug, Clone, Copy)]
pub struct Tr(pub Lang);

impl Tr {
    /// The message `key`; English where this language lacks it (a test keeps that from happening),
    /// the key itself where English does too.
    pub fn t(self, key: &str) -> &'static str {
        let all = catalogs();
        [self.0.code(), "en"].iter().find_map(|code| all.get(code).and_then(|m| m.get(key))).map(String::as_str).unwrap_or_else(|| {
            tracing::error!(key, "a page message is missing");
            ""
        })
    }

    /// The message `key` with each `{name}` filled by its value.
    pub fn f(self, key: &str, values: &[(&str, &str)]) -> String {
        values.iter().fold(self.t(key).to_owned(), |text, (name, value)| text.replace(&format!("{{{name}}}"), value))
    }

    /// The page's `lang` attribute.
    pub fn code(self) -> &'static str {
        self.0.code()
    }
}

tokio::task_local! {
    static CURRENT: Cell<Lang>;
}

/// A layer: the request's language from its `Accept-Language`, for every page it may render.
pub async fn scope(request: Request, next: Next) -> Response {
    let lang = request.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).and_then(Lang::from_accept_language).unwrap_or(Lang::En);
    CURRENT.scope(Cell::new(lang), next.run(request)).await
}

/// The language the page being made speaks.
pub fn current() -> Tr {
    Tr(CURRENT.try_with(Cell::get).unwrap_or(Lang::En))
}

/// The link (or session, or flow) asked for `tag`: it wins over the browser's choice when spoken.
pub fn prefer(tag: Option<&str>) {
    if let Some(lang) = tag.and_then(Lang::of_tag) {
        let _ = CURRENT.try_with(|current| current.set(lang));
    }
}

#[cfg(test)]
mod tests;
