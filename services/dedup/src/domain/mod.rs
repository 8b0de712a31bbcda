//! Pure rules: normalising contact details into match keys, choosing the customer a
//! lead belongs to, and scoring the lead. No I/O here.

pub mod learned;
pub mod learned_features;
pub mod match_key;
pub mod matching;
pub mod merge;
pub mod merge_review;
pub mod normalize;
pub mod score;
pub mod score_rules;
pub mod score_rules_proto;
pub mod score_timeline;
pub mod text;

pub use match_key::{KeyKind, MatchKey, lead_keys};
pub use matching::{Candidate, KeyOwner, rank_candidates};
pub use score::{Grade, GradeThresholds, LeadScore, ScoreFactor, score_lead};
