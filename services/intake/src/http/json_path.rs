//! Finding a value in a webhook payload by a JSON pointer (`/contact/phone`) or a
//! dotted path (`contact.phone`, `items.0.name`, optionally `$.`-prefixed).

use serde_json::Value;

pub fn lookup<'a>(payload: &'a Value, path: &str) -> Option<&'a Value> {
    let path = path.trim();
    if path.starts_with('/') {
        return payload.pointer(path);
    }
    let path = path.strip_prefix("$.").unwrap_or(path);
    path.split('.')
        .try_fold(payload, |value, step| match value {
            Value::Object(map) => map.get(step),
            Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_and_dotted_paths_find_the_same_values() {
        let payload = json!({"contact": {"name": "王伟", "phones": ["13800138000"]}});
        assert_eq!(lookup(&payload, "/contact/name"), Some(&json!("王伟")));
        assert_eq!(lookup(&payload, "contact.name"), Some(&json!("王伟")));
        assert_eq!(
            lookup(&payload, "$.contact.phones.0"),
            Some(&json!("13800138000"))
        );
        assert_eq!(lookup(&payload, "contact.missing"), None);
        assert_eq!(lookup(&payload, "contact.phones.x"), None);
    }
}
