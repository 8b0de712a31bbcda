//! Bounded memo tables for pure, costly parses of text (a stored profile, a name, a
//! company), shared by every check in the process.
//!
//! A table maps the exact input text to its result. Since the result depends on the
//! text alone, an entry can never be stale and nothing needs invalidating: text that
//! changed is a different key. Bounded by two generations: look-ups hit the young one,
//! then the old one (promoting the entry); when the young one is full it becomes the
//! old one and the previous old one is dropped. Hot entries survive; memory stays below
//! two generations' worth.

use std::collections::HashMap;
use std::sync::Mutex;

/// A memo table from text to a result, cheap to clone (an `Arc`, or an `Option` of
/// one): every caller gets a copy of the one result.
pub struct Memo<V> {
    generation_size: usize,
    generations: Mutex<Generations<V>>,
}

struct Generations<V> {
    young: Generation<V>,
    old: Generation<V>,
}

/// Keys are texts of a few to a few hundred bytes, hashed on every look-up (dozens per
/// check at a million customers): foldhash rather than SipHash, which showed as ~1 % of
/// a check's CPU. The keys come from submitted leads, so the hasher is seeded at random
/// per process (foldhash's `RandomState`), and a generation is bounded.
type Generation<V> = HashMap<String, V, foldhash::fast::RandomState>;

impl<V: Clone> Memo<V> {
    /// A table keeping up to `generation_size` entries per generation.
    pub fn new(generation_size: usize) -> Memo<V> {
        Memo {
            generation_size,
            generations: Mutex::new(Generations {
                young: Generation::default(),
                old: Generation::default(),
            }),
        }
    }

    /// The result for `text`, remembered or computed now by `compute` (and kept).
    /// `compute` runs outside the lock: two callers may compute the same text at once,
    /// harmlessly.
    pub fn get_or_try<E>(
        &self,
        text: &str,
        compute: impl FnOnce(&str) -> Result<V, E>,
    ) -> Result<V, E> {
        if let Some(found) = self.lookup(text) {
            return Ok(found);
        }
        let value = compute(text)?;
        self.insert(text.to_owned(), value.clone());
        Ok(value)
    }

    /// The result for `text`, remembered or computed now by `compute` (and kept).
    pub fn get_or_compute(&self, text: &str, compute: impl FnOnce(&str) -> V) -> V {
        match self.get_or_try(text, |text| {
            Ok::<V, std::convert::Infallible>(compute(text))
        }) {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    fn lookup(&self, text: &str) -> Option<V> {
        let mut generations = self.lock();
        if let Some(found) = generations.young.get(text) {
            return Some(found.clone());
        }
        let (key, found) = generations.old.remove_entry(text)?;
        let aged_out = generations.promote(self.generation_size, key, found.clone());
        drop(generations);
        drop(aged_out);
        Some(found)
    }

    fn insert(&self, text: String, value: V) {
        let mut generations = self.lock();
        let aged_out = generations.promote(self.generation_size, text, value);
        drop(generations);
        drop(aged_out);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generations<V>> {
        self.generations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        let generations = self.lock();
        (generations.young.len(), generations.old.len())
    }
}

impl<V> Generations<V> {
    /// Files the entry in the young generation; when that is full it ages first, and the
    /// generation aged out is returned so that the caller frees its entries after
    /// releasing the lock (freeing them under it stalls every concurrent check).
    #[must_use]
    fn promote(&mut self, size: usize, text: String, value: V) -> Option<Generation<V>> {
        let aged_out = if self.young.len() >= size {
            let aged = std::mem::take(&mut self.young);
            Some(std::mem::replace(&mut self.old, aged))
        } else {
            None
        };
        self.young.insert(text, value);
        aged_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::Arc;

    fn length(text: &str) -> Result<Arc<usize>, String> {
        Ok(Arc::new(text.chars().count()))
    }

    #[test]
    fn the_same_text_is_computed_once() {
        let memo = Memo::new(10);
        let a = memo.get_or_try("王伟", length).unwrap();
        let b = memo
            .get_or_try("王伟", |_| Err("computed again".to_owned()))
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(*memo.get_or_try("Wang Wei", length).unwrap(), 8);
    }

    #[test]
    fn failures_are_not_remembered() {
        let memo = Memo::new(10);
        assert!(memo.get_or_try("x", |_| Err("bad".to_owned())).is_err());
        assert_eq!(*memo.get_or_try("x", length).unwrap(), 1);
    }

    #[test]
    fn a_full_generation_ages_but_keeps_what_is_used() {
        let memo = Memo::new(3);
        for text in ["a", "b", "c"] {
            memo.get_or_try(text, length).unwrap();
        }
        assert_eq!(memo.sizes(), (3, 0));
        memo.get_or_try("d", length).unwrap();
        assert_eq!(memo.sizes(), (1, 3), "the full young generation aged");
        // "a" is used again: promoted back into the young generation.
        memo.get_or_try("a", |_| Err("recomputed".to_owned()))
            .unwrap();
        assert_eq!(memo.sizes(), (2, 2));
        for text in ["e", "f"] {
            memo.get_or_try(text, length).unwrap();
        }
        // Ageing again drops the old generation ("b", "c"), keeps "a".
        assert_eq!(memo.sizes(), (1, 3));
        memo.get_or_try("a", |_| Err("recomputed".to_owned()))
            .unwrap();
        assert!(memo.get_or_try("b", |_| Err("gone".to_owned())).is_err());
    }
}
