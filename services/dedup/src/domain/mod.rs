//! Pure rules: normalising contact details into match keys, choosing the customer a
//! lead belongs to, and scoring the lead. No I/O here.

pub mod match_key;
pub mod matching;
pub mod normalize;
pub mod score;

pub use match_key::{KeyKind, MatchKey, lead_keys};
pub use matching::{Candidate, KeyOwner, rank_candidates};
pub use score::{Grade, GradeThresholds, LeadScore, ScoreFactor, score_lead};
