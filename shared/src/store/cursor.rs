//! Listing cursors: opaque to callers, and bound to the query they continue.
//!
//! A cursor carries a position (where the previous page ended, relative to the listing's own
//! prefix) and a digest of the query it belongs to: who listed what, in which project,
//! environment and for which consumer. Presented with any other query, it is refused, so a cursor
//! cannot carry a caller into another project's or consumer's items; and since the position is
//! relative to the query's own prefix, even a forged one only moves within what the caller may
//! list anyway.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest cursor accepted, encoded.
const MAX_LEN: usize = 1024;

/// A cursor that is not one this query gave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one this listing gave (pass next_cursor as it came, with the same query)")]
pub struct BadCursor;

/// What a cursor holds.
#[derive(Serialize, Deserialize)]
struct Wire {
    /// The digest of the query.
    q: String,
    /// Where the previous page ended.
    a: String,
}

/// Makes and reads cursors for one query, named by `binding` (every parameter that selects what
/// the listing may return).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    digest: String,
}

impl Cursor {
    /// Cursors of the query `binding` names.
    pub fn for_query(binding: &str) -> Self {
        let digest = Sha256::digest(binding.as_bytes());
        Self { digest: URL_SAFE_NO_PAD.encode(&digest[..16]) }
    }

    /// The cursor that continues after `position`.
    pub fn encode(&self, position: &str) -> String {
        let wire = Wire { q: self.digest.clone(), a: position.to_owned() };
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
    }

    /// The position `raw` continues after, if it is a cursor of this query.
    pub fn decode(&self, raw: &str) -> Result<String, BadCursor> {
        if raw.is_empty() || raw.len() > MAX_LEN {
            return Err(BadCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| BadCursor)?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| BadCursor)?;
        if wire.q != self.digest || wire.a.is_empty() {
            return Err(BadCursor);
        }
        Ok(wire.a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_continues_only_its_own_query() {
        let alice = Cursor::for_query("connections|prj_a|production|alice");
        let cursor = alice.encode("slack/acme");
        assert_eq!(alice.decode(&cursor), Ok("slack/acme".to_owned()));
        for other in ["connections|prj_a|production|bob", "connections|prj_b|production|alice", "connections|prj_a|preview|alice"] {
            assert_eq!(Cursor::for_query(other).decode(&cursor), Err(BadCursor), "{other}");
        }
        for garbage in ["", "x", "!!!", &"A".repeat(2000), &URL_SAFE_NO_PAD.encode(b"{\"q\":1}")] {
            assert_eq!(alice.decode(garbage), Err(BadCursor));
        }
        assert!(!cursor.contains("alice") && !cursor.contains("slack"), "opaque: {cursor}");
    }
}
