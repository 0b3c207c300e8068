//! The DynamoDB adapter of the item store.
//!
//! Items are stored flat: `pk` and `sk` (strings) are the table's key, `version` a number,
//! `expires_at` a number of epoch seconds that the table's TTL is set on, and the record's own
//! attributes beside them, converted by `serde_dynamo`. Every read is strongly consistent, since
//! leases and one-time tokens must see the last write.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde_json::{Map, Value};

use super::{check_attrs, DeleteCondition, Item, ItemStore, Key, StoreError};
use crate::clock::{Clock, Timestamp};

type AttributeMap = HashMap<String, AttributeValue>;

/// Condition that holds when no live item is at the key.
const ABSENT: &str = "attribute_not_exists(pk) OR expires_at <= :now";
/// Condition that holds when a live item is at the key.
const LIVE: &str = "attribute_exists(pk) AND (attribute_not_exists(expires_at) OR expires_at > :now)";

/// The item store on a DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    clock: Arc<dyn Clock>,
}

impl DynamoStore {
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
    pub async fn create_table(&self) -> Result<(), StoreError> {
        let attribute = |name: &str| {
            AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().map_err(|e| StoreError::Codec(e.to_string()))
        };
        let key =
            |name: &str, kind: KeyType| KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(|e| StoreError::Codec(e.to_string()));
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("pk")?)
            .attribute_definitions(attribute("sk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => return Ok(()),
            Err(e) => return Err(unavailable(e)),
        }
        let ttl = TimeToLiveSpecification::builder().attribute_name("expires_at").enabled(true).build().map_err(|e| StoreError::Codec(e.to_string()))?;
        self.client.update_time_to_live().table_name(&self.table).time_to_live_specification(ttl).send().await.map_err(unavailable)?;
        Ok(())
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
        let output =
            self.client.get_item().table_name(&self.table).set_key(Some(key_attributes(key))).consistent_read(true).send().await.map_err(unavailable)?;
        let now = self.clock.now();
        match output.item {
            Some(attributes) => Ok(Some(decode(attributes)?).filter(|item| !item.is_expired(now))),
            None => Ok(None),
        }
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
    Ok(attributes)
}

fn decode(mut attributes: AttributeMap) -> Result<Item, StoreError> {
    let string = |value: Option<AttributeValue>, name: &str| match value {
        Some(AttributeValue::S(s)) => Ok(s),
        _ => Err(StoreError::Codec(format!("item has no string `{name}`"))),
    };
    let number = |value: Option<AttributeValue>, name: &str| match value {
        Some(AttributeValue::N(n)) => n.parse::<i64>().map(Some).map_err(|_| StoreError::Codec(format!("`{name}` is not an integer"))),
        None => Ok(None),
        Some(_) => Err(StoreError::Codec(format!("`{name}` is not a number"))),
    };
    let key = Key::new(string(attributes.remove("pk"), "pk")?, string(attributes.remove("sk"), "sk")?);
    let version = number(attributes.remove("version"), "version")?.unwrap_or(1) as u64;
    let expires_at = number(attributes.remove("expires_at"), "expires_at")?.map(Timestamp);
    let attrs: Map<String, Value> = serde_dynamo::from_item(attributes).map_err(|e| StoreError::Codec(e.to_string()))?;
    Ok(Item { key, version, expires_at, attrs })
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
