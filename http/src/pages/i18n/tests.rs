//! The catalogs are whole: every message in every language, with the same placeholders; every
//! message a page asks for exists; and the language a page speaks is chosen as documented.

use std::collections::BTreeSet;

use super::*;
use crate::error::ErrorCode;

fn placeholders(text: &str) -> BTreeSet<&str> {
    text.split('{').skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect()
}

#[test]
fn every_key_exists_in_every_language_with_the_same_placeholders() {
    let all = catalogs();
    let english = &all["en"];
    for lang in Lang::ALL {
        let messages = &all[lang.code()];
        let missing: Vec<&String> = english.keys().filter(|k| !messages.contains_key(*k)).collect();
        let extra: Vec<&String> = messages.keys().filter(|k| !english.contains_key(*k)).collect();
        assert!(missing.is_empty() && extra.is_empty(), "{}: missing {missing:?}, not in English {extra:?}", lang.code());
        for (key, text) in messages {
            assert!(!text.trim().is_empty(), "{}: {key} is empty", lang.code());
            assert_eq!(placeholders(text), placeholders(&english[key]), "{}: {key} has other placeholders than English", lang.code());
        }
    }
}

#[test]
fn every_message_a_page_asks_for_exists() {
    let english = &catalogs()["en"];
    for code in ErrorCode::ALL {
        let key = crate::pages::error_message_key(*code);
        assert!(english.contains_key(key), "{} shows {key}, which is missing", code.as_str());
    }
    // The keys the page code names, found in its source: a typo there would show an empty string.
    let sources = [include_str!("../connect.rs"), include_str!("../connect_items.rs"), include_str!("../result.rs"), include_str!("../mod.rs")];
    for source in sources {
        for (i, _) in source.match_indices('"') {
            let rest = &source[i + 1..];
            let Some(end) = rest.find('"') else { continue };
            let candidate = &rest[..end];
            let looks_like_key = ["connect.", "state.", "action.", "authorize.", "result.", "error."].iter().any(|p| candidate.starts_with(p))
                && candidate.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_');
            if looks_like_key {
                assert!(english.contains_key(candidate), "the pages ask for {candidate}, which is missing");
            }
        }
    }
    for category in latchkey::catalog::CATEGORIES {
        assert!(english.contains_key(&format!("category.{category}")), "no title for {category}");
    }
}

#[test]
fn the_language_is_the_links_then_the_browsers_then_english() {
    assert_eq!(Lang::of_tag("pt-BR"), Some(Lang::Pt));
    assert_eq!(Lang::of_tag("JA"), Some(Lang::Ja));
    assert_eq!(Lang::of_tag("nl"), None);
    assert_eq!(Lang::from_accept_language("nl-NL, de;q=0.7, fr;q=0.9"), Some(Lang::Fr));
    assert_eq!(Lang::from_accept_language("es-MX,es;q=0.9,en;q=0.8"), Some(Lang::Es));
    assert_eq!(Lang::from_accept_language("de;q=0, ja"), Some(Lang::Ja));
    assert_eq!(Lang::from_accept_language("*, nl"), None);
    assert_eq!(Lang::from_accept_language("fr;q=abc"), None);
    assert_eq!(current().0, Lang::En, "outside a request, English");
}

#[test]
fn messages_are_filled_and_their_values_escaped_by_the_page() {
    let tr = Tr(Lang::De);
    assert_eq!(tr.f("connect.button", &[("name", "Slack")]), "Slack verbinden");
    let markup = maud::html! { h1 { (Tr(Lang::En).f("connect.heading", &[("app", "<b>Acme</b>")])) } };
    assert_eq!(markup.into_string(), "<h1>Connect an account to &lt;b&gt;Acme&lt;/b&gt;</h1>");
}
