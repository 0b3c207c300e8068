//! One check of a JSON body against the document: an array where the schema wants something else.
//! serde's derived structs also take their fields as a sequence (`"theme": [null, null]`), which
//! no client means and the contract forbids; the schema of the body's type says where arrays go.

use serde_json::Value;

/// Nesting past this is not walked (the body limit bounds it anyway).
const MAX_DEPTH: usize = 32;

/// Where in `body` an array stands where the component `name` does not allow one, if anywhere.
pub fn misplaced_array(body: &Value, name: &str) -> Option<String> {
    let document = super::document_value();
    let schema = document.pointer(&format!("/components/schemas/{name}"))?;
    walk(body, schema, document, 0).err()
}

fn resolve<'a>(schema: &'a Value, document: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => document.pointer(reference.trim_start_matches('#')).unwrap_or(&Value::Null),
        None => schema,
    }
}

fn allows_array(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::String(kind)) => kind == "array",
        Some(Value::Array(kinds)) => kinds.iter().any(|k| k == "array"),
        _ => true,
    }
}

/// `Err(path)` at the first array the schema does not allow (the path relative to `value`).
fn walk(value: &Value, schema: &Value, document: &Value, depth: usize) -> Result<(), String> {
    let schema = resolve(schema, document);
    if depth > MAX_DEPTH {
        return Ok(());
    }
    let branches = ["oneOf", "anyOf"].iter().find_map(|key| schema.get(*key).and_then(Value::as_array));
    if let Some(branches) = branches {
        // One branch that takes the value is enough.
        return match branches.iter().any(|branch| walk(value, branch, document, depth + 1).is_ok()) {
            true => Ok(()),
            false => Err(String::new()),
        };
    }
    match value {
        Value::Array(_) if !allows_array(schema) => Err(String::new()),
        Value::Array(items) => items.iter().enumerate().try_for_each(|(i, item)| {
            let items_schema = schema.get("items").unwrap_or(&Value::Null);
            walk(item, items_schema, document, depth + 1).map_err(|path| format!("[{i}]{path}"))
        }),
        Value::Object(fields) => fields.iter().try_for_each(|(name, field)| match schema.get("properties").and_then(|p| p.get(name)) {
            Some(field_schema) => walk(field, field_schema, document, depth + 1).map_err(|path| format!(".{name}{path}")),
            None => Ok(()),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrays_stand_only_where_the_schema_puts_them() {
        let body = json!({"consumer_id": "u", "redirect_uri": "https://a.test", "settings": {"unified_apis": ["crm"]}});
        assert_eq!(misplaced_array(&body, "SessionRequest"), None);
        let theme_as_array = json!({"consumer_id": "u", "redirect_uri": "https://a.test", "theme": [null, null]});
        assert_eq!(misplaced_array(&theme_as_array, "SessionRequest").as_deref(), Some(".theme"));
        assert_eq!(misplaced_array(&json!([{"id": "u"}]), "LinkTokenRequest").as_deref(), Some(""));
    }
}
