//! The DynamoDB adapter of the item store.
//!
//! Items are stored flat: `pk` and `sk` (strings) are the table's key, `version` a number,
//! `expires_at` a number of epoch seconds that the table's TTL is set on, and the record's own
//! attributes beside them, converted by `serde_dynamo`. Every read of the table is strongly
//! consistent, since leases and one-time tokens must see the last write.
//!
//! The due index is a sparse global secondary index, `due`: an item with a due time carries
//! `due_pk` = `{queue}#{shard}` and `due_at` (epoch seconds), and only such items are in it. The
//! shard (a hash of the item's key, [`DUE_SHARDS`] of them) spreads the index's writes over
//! partitions, since every refresh rewrites a due time and a single `REFRESH` key would take
//! them all; finding what is due is one query per shard, ordered by `due_at`. The index holds keys
//! and `expires_at` only, so it carries no secret and a read of it costs a few bytes per item.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, KeySchemaElement,
    KeyType, Projection, ProjectionType, ReturnValue, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde_json::{Map, Value};

use super::{check_attrs, DeleteCondition, Due, DueItem, DueQueue, Item, ItemStore, Key, QueryPage, StoreError};
use crate::clock::{Clock, Timestamp};

type AttributeMap = HashMap<String, AttributeValue>;

/// Condition that holds when no live item is at the key.
const ABSENT: &str = "attribute_not_exists(pk) OR expires_at <= :now";
/// Condition that holds when a live item is at the key.
const LIVE: &str = "attribute_exists(pk) AND (attribute_not_exists(expires_at) OR expires_at > :now)";
/// How many partition keys each queue of the due index is spread over.
pub const DUE_SHARDS: u64 = 16;

/// The item store on a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoStore {
    async fn get_with(&self, key: &Key, consistent: bool) -> Result<Option<Item>, StoreError> {
        let request = self.client.get_item().table_name(&self.table).set_key(Some(key_attributes(key))).consistent_read(consistent);
        let output = request.send().await.map_err(unavailable)?;
        let now = self.clock.now();
        match output.item {
            Some(attributes) => Ok(Some(decode(attributes)?).filter(|item| !item.is_expired(now))),
            None => Ok(None),
        }
    }

    /// The due index's name (template.yaml declares the same; a test compares them).
    pub const DUE_INDEX: &'static str = "due";

    /// An adapter over `table`, using a client built once per process.
    pub fn new(client: Client, table: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        Self { client, table: table.into(), clock }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table with the layout template.yaml deploys (for local runs and tests; on AWS
    /// the stack owns the table). Succeeds if the table already exists.
    /// A table made before the due index gets it added.
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("pk", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("sk", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("due_pk", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("due_at", ScalarAttributeType::N)?)
            .key_schema(key_element("pk", KeyType::Hash)?)
            .key_schema(key_element("sk", KeyType::Range)?)
            .global_secondary_indexes(due_index()?)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => return self.add_due_index().await,
            Err(e) => return Err(unavailable(e)),
        }
        let ttl = TimeToLiveSpecification::builder().attribute_name("expires_at").enabled(true).build().map_err(|e| StoreError::Codec(e.to_string()))?;
        self.client.update_time_to_live().table_name(&self.table).time_to_live_specification(ttl).send().await.map_err(unavailable)?;
        Ok(())
    }

    /// Adds the due index to an existing table that lacks it (the table of an earlier version).
    async fn add_due_index(&self) -> Result<(), StoreError> {
        let described = self.client.describe_table().table_name(&self.table).send().await.map_err(unavailable)?;
        let indexes = described.table().map(|t| t.global_secondary_indexes()).unwrap_or_default();
        if indexes.iter().any(|index| index.index_name() == Some(Self::DUE_INDEX)) {
            return Ok(());
        }
        let index = due_index()?;
        let create = CreateGlobalSecondaryIndexAction::builder()
            .index_name(Self::DUE_INDEX)
            .set_key_schema(Some(index.key_schema().to_vec()))
            .set_projection(index.projection().cloned())
            .build()
            .map_err(|e| StoreError::Codec(e.to_string()))?;
        self.client
            .update_table()
            .table_name(&self.table)
            .attribute_definitions(attribute("due_pk", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("due_at", ScalarAttributeType::N)?)
            .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(create).build())
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Up to `limit` due items of one shard, soonest first.
    async fn due_in_shard(&self, due_pk: String, until: Timestamp, limit: usize) -> Result<Vec<DueItem>, StoreError> {
        let mut found = Vec::new();
        let mut start: Option<AttributeMap> = None;
        let now = self.clock.now();
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(Self::DUE_INDEX)
                .key_condition_expression("due_pk = :due_pk AND due_at <= :until")
                .expression_attribute_values(":due_pk", AttributeValue::S(due_pk.clone()))
                .expression_attribute_values(":until", AttributeValue::N(until.0.to_string()))
                .limit((limit - found.len()).min(1000) as i32)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(unavailable)?;
            for mut attributes in output.items.unwrap_or_default() {
                let expires_at = number(attributes.remove("expires_at"), "expires_at")?.map(Timestamp);
                if expires_at.is_some_and(|at| at <= now) {
                    continue;
                }
                let key = Key::new(string(attributes.remove("pk"), "pk")?, string(attributes.remove("sk"), "sk")?);
                let at = number(attributes.remove("due_at"), "due_at")?.map(Timestamp).ok_or_else(|| StoreError::Codec("no due_at".into()))?;
                found.push(DueItem { key, at });
            }
            match output.last_evaluated_key {
                Some(next) if !next.is_empty() && found.len() < limit => start = Some(next),
                _ => return Ok(found),
            }
        }
    }

    fn now_value(&self) -> AttributeValue {
        AttributeValue::N(self.clock.now().0.to_string())
    }

    async fn put_with_condition(&self, attributes: AttributeMap, condition: Option<&str>, values: Vec<(&str, AttributeValue)>) -> Result<(), StoreError> {
        let mut request = self.client.put_item().table_name(&self.table).set_item(Some(attributes));
        if let Some(condition) = condition {
            request = request.condition_expression(condition);
        }
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        request.send().await.map(|_| ()).map_err(condition_or_unavailable)
    }
}

#[async_trait]
impl ItemStore for DynamoStore {
    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.get_with(key, true).await
    }

    async fn get_eventually(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        self.get_with(key, false).await
    }

    async fn put_if_absent(&self, item: &Item) -> Result<(), StoreError> {
        let attributes = encode(item, 1)?;
        self.put_with_condition(attributes, Some(ABSENT), vec![(":now", self.now_value())]).await
    }

    async fn put_if_version(&self, item: &Item) -> Result<u64, StoreError> {
        let next = item.version + 1;
        let attributes = encode(item, next)?;
        let condition = "version = :expected AND (attribute_not_exists(expires_at) OR expires_at > :now)";
        let values = vec![(":expected", AttributeValue::N(item.version.to_string())), (":now", self.now_value())];
        self.put_with_condition(attributes, Some(condition), values).await?;
        Ok(next)
    }

    async fn put(&self, item: &Item) -> Result<(), StoreError> {
        let attributes = encode(item, item.version)?;
        self.put_with_condition(attributes, None, Vec::new()).await
    }

    async fn delete_if(&self, key: &Key, condition: DeleteCondition) -> Result<(), StoreError> {
        let request = self.client.delete_item().table_name(&self.table).set_key(Some(key_attributes(key)));
        let request = match condition {
            DeleteCondition::Exists => request.condition_expression(LIVE).expression_attribute_values(":now", self.now_value()),
            DeleteCondition::Version(version) => {
                request.condition_expression("version = :expected").expression_attribute_values(":expected", AttributeValue::N(version.to_string()))
            }
        };
        request.send().await.map(|_| ()).map_err(condition_or_unavailable)
    }

    async fn take(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .condition_expression(LIVE)
            .expression_attribute_values(":now", self.now_value())
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result.map_err(condition_or_unavailable) {
            Ok(output) => output.attributes.map(decode).transpose(),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn query(&self, pk: &str, sk_prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<AttributeMap> = None;
        loop {
            let request = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .set_exclusive_start_key(start.take());
            // DynamoDB refuses an empty operand to begins_with: an empty prefix is the whole partition.
            let request = if sk_prefix.is_empty() {
                request.key_condition_expression("pk = :pk")
            } else {
                request
                    .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                    .expression_attribute_values(":prefix", AttributeValue::S(sk_prefix.to_owned()))
            };
            let output = request.send().await.map_err(unavailable)?;
            for attributes in output.items.unwrap_or_default() {
                items.push(decode(attributes)?);
            }
            match output.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        let now = self.clock.now();
        items.retain(|item| !item.is_expired(now));
        Ok(items)
    }

    async fn query_page(&self, pk: &str, sk_prefix: &str, after: Option<&str>, limit: usize) -> Result<QueryPage, StoreError> {
        let limit = limit.max(1);
        let start = after.map(|sk| key_attributes(&Key::new(pk, sk)));
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            // One more than asked says whether another page follows.
            .limit(limit.saturating_add(1).min(i32::MAX as usize) as i32)
            .set_exclusive_start_key(start);
        let request = if sk_prefix.is_empty() {
            request.key_condition_expression("pk = :pk")
        } else {
            request
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(sk_prefix.to_owned()))
        };
        let output = request.send().await.map_err(unavailable)?;
        let mut items = output.items.unwrap_or_default().into_iter().map(decode).collect::<Result<Vec<_>, _>>()?;
        let more = items.len() > limit || output.last_evaluated_key.is_some_and(|k| !k.is_empty());
        items.truncate(limit);
        let next = if more { items.last().map(|item| item.key.sk.clone()) } else { None };
        let now = self.clock.now();
        items.retain(|item| !item.is_expired(now));
        Ok(QueryPage { items, next })
    }

    async fn due(&self, queue: DueQueue, until: Timestamp, limit: usize) -> Result<Vec<DueItem>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Each shard is read up to the whole limit, so the soonest `limit` overall are among them.
        let shards = (0..DUE_SHARDS).map(|shard| self.due_in_shard(format!("{}#{shard:02}", queue.as_str()), until, limit));
        let mut found: Vec<DueItem> = futures::future::try_join_all(shards).await?.into_iter().flatten().collect();
        found.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.key.cmp(&b.key)));
        found.truncate(limit);
        Ok(found)
    }
}

fn attribute(name: &str, kind: ScalarAttributeType) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder().attribute_name(name).attribute_type(kind).build().map_err(|e| StoreError::Codec(e.to_string()))
}

fn key_element(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(|e| StoreError::Codec(e.to_string()))
}

/// The due index as template.yaml declares it: keys and `expires_at` only.
fn due_index() -> Result<GlobalSecondaryIndex, StoreError> {
    let projection = Projection::builder().projection_type(ProjectionType::Include).non_key_attributes("expires_at").build();
    GlobalSecondaryIndex::builder()
        .index_name(DynamoStore::DUE_INDEX)
        .key_schema(key_element("due_pk", KeyType::Hash)?)
        .key_schema(key_element("due_at", KeyType::Range)?)
        .projection(projection)
        .build()
        .map_err(|e| StoreError::Codec(e.to_string()))
}

/// The index partition an item's due time goes to: its queue and a stable hash of its key.
fn due_partition(key: &Key, due: &Due) -> String {
    format!("{}#{:02}", due.queue.as_str(), key.stable_hash() % DUE_SHARDS)
}

fn key_attributes(key: &Key) -> AttributeMap {
    HashMap::from([("pk".to_owned(), AttributeValue::S(key.pk.clone())), ("sk".to_owned(), AttributeValue::S(key.sk.clone()))])
}

fn encode(item: &Item, version: u64) -> Result<AttributeMap, StoreError> {
    check_attrs(&item.attrs)?;
    let mut attributes: AttributeMap = serde_dynamo::to_item(&item.attrs).map_err(|e| StoreError::Codec(e.to_string()))?;
    attributes.extend(key_attributes(&item.key));
    attributes.insert("version".to_owned(), AttributeValue::N(version.to_string()));
    if let Some(at) = item.expires_at {
        attributes.insert("expires_at".to_owned(), AttributeValue::N(at.0.to_string()));
    }
    if let Some(due) = &item.due {
        attributes.insert("due_pk".to_owned(), AttributeValue::S(due_partition(&item.key, due)));
        attributes.insert("due_at".to_owned(), AttributeValue::N(due.at.0.to_string()));
    }
    Ok(attributes)
}

fn string(value: Option<AttributeValue>, name: &str) -> Result<String, StoreError> {
    match value {
        Some(AttributeValue::S(s)) => Ok(s),
        _ => Err(StoreError::Codec(format!("item has no string `{name}`"))),
    }
}

fn number(value: Option<AttributeValue>, name: &str) -> Result<Option<i64>, StoreError> {
    match value {
        Some(AttributeValue::N(n)) => n.parse::<i64>().map(Some).map_err(|_| StoreError::Codec(format!("`{name}` is not an integer"))),
        None => Ok(None),
        Some(_) => Err(StoreError::Codec(format!("`{name}` is not a number"))),
    }
}

fn decode(mut attributes: AttributeMap) -> Result<Item, StoreError> {
    let key = Key::new(string(attributes.remove("pk"), "pk")?, string(attributes.remove("sk"), "sk")?);
    let version = number(attributes.remove("version"), "version")?.unwrap_or(1) as u64;
    let expires_at = number(attributes.remove("expires_at"), "expires_at")?.map(Timestamp);
    let queue = match attributes.remove("due_pk") {
        Some(AttributeValue::S(p)) => p.split('#').next().and_then(DueQueue::parse),
        _ => None,
    };
    let due_at = number(attributes.remove("due_at"), "due_at")?;
    let due = queue.zip(due_at).map(|(queue, at)| Due { queue, at: Timestamp(at) });
    let attrs: Map<String, Value> = serde_dynamo::from_item(attributes).map_err(|e| StoreError::Codec(e.to_string()))?;
    Ok(Item { key, version, expires_at, attrs, due })
}

fn unavailable<E: ProvideErrorMetadata + std::fmt::Debug>(error: E) -> StoreError {
    // The SDK's Display for dispatch failures is terse ("dispatch failure"); the code and message
    // say what went wrong without including any request data.
    StoreError::Unavailable(format!("{}: {}", error.code().unwrap_or("dynamodb_error"), error.message().unwrap_or("the DynamoDB call failed")))
}

fn condition_or_unavailable<E: ProvideErrorMetadata + std::fmt::Debug>(error: E) -> StoreError {
    match error.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        // DynamoDB's 400 KB item limit: the caller's input is too big, not the store down.
        Some("ValidationException") if error.message().is_some_and(|m| m.contains("size")) => StoreError::TooLarge("the record".into()),
        _ => unavailable(error),
    }
}
