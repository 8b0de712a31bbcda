//! Identifiers: time-ordered UUIDv7 with a readable prefix saying what they name
//! (`lead_…`, `cus_…`, `opp_…`), so an id in a log or ticket explains itself.

/// A new id such as `lead_01932c4e7a5b7c3d9e0f1a2b3c4d5e6f`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// A new event id (plain UUIDv7; also the JetStream message id).
pub fn new_event_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_prefixed_unique_and_ordered() {
        let a = super::new_id("lead");
        let b = super::new_id("lead");
        assert!(a.starts_with("lead_") && a.len() == 37);
        assert_ne!(a, b);
        assert!(a < b, "v7 ids sort by creation time");
    }
}
