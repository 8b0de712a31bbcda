//! A value together with the event time it is true as of. Merging keeps the newer
//! statement; on equal times the larger value wins, so the result never depends on
//! the order statements arrive in.

use serde::{Deserialize, Serialize};

/// `as_of` of a statement nobody made: it loses against anything stated.
pub const UNKNOWN: i64 = i64::MIN;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned<T> {
    pub value: T,
    pub as_of: i64,
}

impl<T: Ord + Clone + Default> Versioned<T> {
    pub fn unknown() -> Versioned<T> {
        Versioned {
            value: T::default(),
            as_of: UNKNOWN,
        }
    }

    /// Takes `value` if it is the newer statement (ties: the larger value).
    pub fn merge(&mut self, value: T, as_of: i64) {
        if (as_of, &value) > (self.as_of, &self.value) {
            self.value = value;
            self.as_of = as_of;
        }
    }

    pub fn is_known(&self) -> bool {
        self.as_of != UNKNOWN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_wins_and_ties_do_not_depend_on_order() {
        let mut a = Versioned::<String>::unknown();
        a.merge("x".into(), 10);
        a.merge("old".into(), 5);
        assert_eq!(a.value, "x");
        let mut b = Versioned::<String>::unknown();
        b.merge("y".into(), 10);
        b.merge("x".into(), 10);
        let mut c = Versioned::<String>::unknown();
        c.merge("x".into(), 10);
        c.merge("y".into(), 10);
        assert_eq!(b, c);
        assert!(c.is_known() && !Versioned::<i64>::unknown().is_known());
    }
}
