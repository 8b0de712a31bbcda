//! Parsed candidate profiles, remembered by the stored profile text they came from.
//!
//! Parsing a stored profile (folding traditional characters, pinyin spellings of every
//! reading, company parsing) costs more than comparing it, and a check compares dozens
//! of candidates, the same common-name customers again and again. The cache is keyed by
//! the exact JSON text read from `customer_profiles` in the same statement that serves
//! the check, not by customer id: a profile another replica rewrote (new lead, merge,
//! unmerge) reads as different text and is parsed afresh, so nothing here can be stale
//! and nothing needs invalidating. Bounded as every [`Memo`] is.

use std::sync::{Arc, LazyLock};

use crate::domain::matching::{MatchProfile, ParsedProfile};
use crate::memo::Memo;

/// Entries per generation: a stored profile and its parse are ~1 KB, so the cache
/// holds about 2 x 50,000 x 1 KB = 100 MB at worst.
const GENERATION_SIZE: usize = 50_000;

static CACHE: LazyLock<Memo<Arc<ParsedProfile>>> = LazyLock::new(|| Memo::new(GENERATION_SIZE));

/// The parse of the stored profile `json`, from the cache or parsed now (and kept).
pub fn parsed(json: &str) -> Result<Arc<ParsedProfile>, serde_json::Error> {
    CACHE.get_or_try(json, |json| {
        let profile: MatchProfile = serde_json::from_str(json)?;
        Ok(Arc::new(ParsedProfile::from(&profile)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_is_parsed_once_and_other_text_afresh() {
        let first = r#"{"names":["王伟"],"companies":["北京华信科技有限公司"]}"#;
        let rewritten = r#"{"names":["王伟","Wang Wei"],"companies":["北京华信科技有限公司"]}"#;
        let a = parsed(first).unwrap();
        let b = parsed(first).unwrap();
        assert!(
            Arc::ptr_eq(&a, &b),
            "the second read of the same text is the cached parse"
        );
        let c = parsed(rewritten).unwrap();
        assert_eq!(
            c.names.len(),
            2,
            "a rewritten profile is parsed from its new text"
        );
        assert_eq!(a.names.len(), 1);
    }

    #[test]
    fn text_that_is_not_a_profile_is_an_error() {
        assert!(parsed("not json").is_err());
    }
}
