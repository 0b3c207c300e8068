//! The connections API, a page at a time: `GET /v1/connections` for one consumer.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Client, Error};

/// One entry of a consumer's listing: a connector they may use, and their connection to it if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// `conn_...`, once connected.
    pub id: Option<String>,
    /// The connector uid.
    pub connector: String,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// The catalog provider.
    #[serde(default)]
    pub provider: String,
    /// `oauth2`, `api_key`, `basic`, ...
    #[serde(default)]
    pub auth_type: String,
    /// `available`, `added`, `authorized`, `callable` or `invalid`.
    pub state: String,
    /// The consumer.
    #[serde(default)]
    pub consumer_id: Option<String>,
    /// Granted scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Non-secret values from the provider.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// Where the consumer's browser authorizes (again).
    #[serde(default)]
    pub authorize_url: Option<String>,
    /// `DELETE` this to revoke and remove the connection.
    #[serde(default)]
    pub revoke_url: Option<String>,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The entries of this page.
    pub data: Vec<T>,
    /// Pass as `cursor` for the next page; `None` on the last.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl Client {
    /// One page of `consumer`'s connections: at most `limit` (1 to 100; the server's 50 when
    /// `None`) after `cursor`, the previous page's `next_cursor`.
    pub async fn list_connections(&self, consumer: &str, limit: Option<usize>, cursor: Option<&str>) -> Result<Page<Connection>, Error> {
        let mut url = self.base.clone();
        url.path_segments_mut().map_err(|_| Error::Transport("base URL cannot have a path".into()))?.extend(["v1", "connections"]);
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("consumer_id", consumer);
            if let Some(limit) = limit {
                query.append_pair("limit", &limit.to_string());
            }
            if let Some(cursor) = cursor {
                query.append_pair("cursor", cursor);
            }
        }
        let body = self.send(self.http.get(url)).await?;
        serde_json::from_value(body).map_err(|e| Error::Transport(format!("unexpected listing: {e}")))
    }

    /// Every page of `consumer`'s connections, `limit` at a time.
    pub async fn all_connections(&self, consumer: &str, limit: Option<usize>) -> Result<Vec<Connection>, Error> {
        let (mut all, mut cursor, mut seen) = (Vec::new(), None::<String>, std::collections::HashSet::new());
        loop {
            let page = self.list_connections(consumer, limit, cursor.as_deref()).await?;
            all.extend(page.data);
            match page.next_cursor {
                // A server answering the same cursor twice would otherwise loop for ever.
                Some(next) if !seen.insert(next.clone()) => return Err(Error::Transport("Latchkey answered the same cursor twice".into())),
                Some(next) => cursor = Some(next),
                None => return Ok(all),
            }
        }
    }
}
