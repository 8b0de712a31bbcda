//! Parsed candidate profiles, remembered by the stored profile text they came from.
//!
//! Parsing a stored profile (folding traditional characters, pinyin spellings of every
//! reading, company parsing) costs more than comparing it, and a check compares dozens
//! of candidates, the same common-name customers again and again. The cache is keyed by
//! the exact JSON text read from `customer_profiles` in the same statement that serves
//! the check, not by customer id: a profile another replica rewrote (new lead, merge,
//! unmerge) reads as different text and is parsed afresh, so nothing here can be stale
//! and nothing needs invalidating.
//!
//! Bounded by two generations: lookups hit the young one, then the old one (promoting
//! the entry); when the young one is full it becomes the old one and the previous old
//! one is dropped. Hot profiles survive, memory stays below two generations' worth.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::matching::{MatchProfile, ParsedProfile};

/// Entries per generation: a stored profile and its parse are ~1 KB, so the cache
/// holds about 2 x 50,000 x 1 KB = 100 MB at worst.
const GENERATION_SIZE: usize = 50_000;

#[derive(Default)]
struct Generations {
    young: Generation,
    old: Generation,
}

fn cache() -> &'static Mutex<Generations> {
    static CACHE: std::sync::OnceLock<Mutex<Generations>> = std::sync::OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

/// The parse of the stored profile `json`, from the cache or parsed now (and kept).
pub fn parsed(json: &str) -> Result<Arc<ParsedProfile>, serde_json::Error> {
    if let Some(found) = lookup(json) {
        return Ok(found);
    }
    // Parsed outside the lock: two checks may parse the same text at once, harmlessly.
    let profile: MatchProfile = serde_json::from_str(json)?;
    let parsed = Arc::new(ParsedProfile::from(&profile));
    insert(json.to_owned(), parsed.clone());
    Ok(parsed)
}

fn lookup(json: &str) -> Option<Arc<ParsedProfile>> {
    let mut generations = cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(found) = generations.young.get(json) {
        return Some(found.clone());
    }
    let (key, found) = generations.old.remove_entry(json)?;
    let aged_out = generations.promote(key, found.clone());
    drop(generations);
    drop(aged_out);
    Some(found)
}

fn insert(json: String, parsed: Arc<ParsedProfile>) {
    let mut generations = cache()
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let aged_out = generations.promote(json, parsed);
    drop(generations);
    drop(aged_out);
}

/// A generation of the cache. Keys are profile texts of a few hundred bytes, hashed on
/// every look-up (~40 per check at a million customers): foldhash rather than SipHash,
/// which showed as ~1 % of a check's CPU. The keys come from submitted leads, so the
/// hasher is seeded at random per process (foldhash's `RandomState`), and a generation
/// holds at most 50,000 entries.
type Generation = HashMap<String, Arc<ParsedProfile>, foldhash::fast::RandomState>;

impl Generations {
    /// Files the entry in the young generation; when that is full it ages first, and the
    /// generation aged out is returned so that the caller frees its 50,000 entries after
    /// releasing the lock (freeing them under it stalls every concurrent check).
    #[must_use]
    fn promote(&mut self, json: String, parsed: Arc<ParsedProfile>) -> Option<Generation> {
        let aged_out = if self.young.len() >= GENERATION_SIZE {
            let aged = std::mem::take(&mut self.young);
            Some(std::mem::replace(&mut self.old, aged))
        } else {
            None
        };
        self.young.insert(json, parsed);
        aged_out
    }
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
    fn a_full_generation_ages_but_keeps_what_is_used() {
        let mut generations = Generations::default();
        let parse = Arc::new(ParsedProfile::from(&MatchProfile::default()));
        for n in 0..GENERATION_SIZE {
            assert!(generations.promote(format!("{n}"), parse.clone()).is_none());
        }
        let aged_out = generations.promote("next".into(), parse.clone());
        assert_eq!(
            aged_out.map(|g| g.len()),
            Some(0),
            "the first ageing drops the empty old one"
        );
        assert_eq!(generations.young.len(), 1);
        assert_eq!(generations.old.len(), GENERATION_SIZE);
        assert!(generations.promote("more".into(), parse).is_none());
        assert!(generations.old.contains_key("0"));
        assert!(generations.young.contains_key("more"));
    }

    #[test]
    fn text_that_is_not_a_profile_is_an_error() {
        assert!(parsed("not json").is_err());
    }
}
