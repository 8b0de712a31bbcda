//! Pipelines and their stages: what every tenant starts with, which stage a rep may
//! move an opportunity to, and which gates stand on the way.

use serde::{Deserialize, Serialize};

use super::gate::StageGate;

/// The pipeline every tenant gets on first use.
pub const DEFAULT_PIPELINE_ID: &str = "default";
pub const DEFAULT_PIPELINE_NAME: &str = "Default";

/// The terminal stages; only CloseOpportunity moves an opportunity into them.
pub const WON: &str = "won";
pub const LOST: &str = "lost";

/// One step of a pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stage {
    pub name: String,
    /// Position in the pipeline, 0 first.
    pub order: u32,
    /// Chance that an opportunity in this stage is won, 0..=1 (for forecasts).
    pub win_probability: f64,
    /// Won and lost end the opportunity.
    pub terminal: bool,
    /// What must hold to enter the stage.
    #[serde(default)]
    pub gate: StageGate,
}

/// A tenant's pipeline, in one version, with its stages in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    pub pipeline_id: String,
    pub name: String,
    /// The team whose new opportunities follow it; empty for none.
    pub team: String,
    /// Starts at 1; every change of the stages or gates makes a new one.
    pub version: i64,
    pub stages: Vec<Stage>,
}

/// The stages of the default pipeline: from first contact to the close.
const DEFAULT_STAGES: [(&str, f64, bool); 7] = [
    ("lead", 0.05, false),
    ("qualified", 0.10, false),
    ("needs_analysis", 0.20, false),
    ("proposal", 0.40, false),
    ("negotiation", 0.70, false),
    (WON, 1.0, true),
    (LOST, 0.0, true),
];

impl Pipeline {
    /// The pipeline a tenant starts with.
    pub fn default_pipeline() -> Pipeline {
        Pipeline {
            pipeline_id: DEFAULT_PIPELINE_ID.to_owned(),
            name: DEFAULT_PIPELINE_NAME.to_owned(),
            team: String::new(),
            version: 1,
            stages: DEFAULT_STAGES
                .iter()
                .zip(0u32..)
                .map(|(&(name, win_probability, terminal), order)| Stage {
                    name: name.to_owned(),
                    order,
                    win_probability,
                    terminal,
                    gate: StageGate::default(),
                })
                .collect(),
        }
    }

    /// Builds a pipeline, putting its stages in order.
    pub fn new(
        pipeline_id: String,
        name: String,
        team: String,
        version: i64,
        mut stages: Vec<Stage>,
    ) -> Pipeline {
        stages.sort_by_key(|s| s.order);
        Pipeline {
            pipeline_id,
            name,
            team,
            version,
            stages,
        }
    }

    /// The stages whose gates a move from `from` to `to` must pass: every stage entered
    /// on the way forward (skipping a stage does not skip its gate); none going back.
    pub fn gates_on_the_way(&self, from: &str, to: &Stage) -> Vec<&Stage> {
        let from_order = self.stage(from).map(|s| s.order);
        self.stages
            .iter()
            .filter(|s| !s.terminal && s.order <= to.order)
            .filter(|s| from_order.is_none_or(|from| s.order > from))
            .filter(|s| !s.gate.is_empty())
            .collect()
    }

    /// Whether the stages (names, order, probabilities, gates) are the same as `other`'s.
    pub fn same_stages(&self, other: &Pipeline) -> bool {
        self.stages == other.stages
    }

    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name == name)
    }

    /// Where a new opportunity starts: the first stage that is not terminal.
    pub fn entry_stage(&self) -> Option<&Stage> {
        self.stages.iter().find(|s| !s.terminal)
    }

    /// The position of `name`, or 0 for a stage the pipeline does not have (an
    /// opportunity is never in one; 0 keeps event readers' ordering sane regardless).
    pub fn order_of(&self, name: &str) -> u32 {
        self.stage(name).map_or(0, |s| s.order)
    }

    /// The stages AdvanceStage may move to, in order.
    pub fn open_stage_names(&self) -> Vec<String> {
        self.stages
            .iter()
            .filter(|s| !s.terminal)
            .map(|s| s.name.clone())
            .collect()
    }

    /// The stage AdvanceStage may move an opportunity to, or why `to_stage` is not one.
    pub fn advance_target(&self, to_stage: &str) -> Result<&Stage, StageError> {
        let to_stage = to_stage.trim();
        if to_stage.is_empty() {
            return Err(StageError::Missing {
                valid: self.open_stage_names(),
            });
        }
        match self.stage(to_stage) {
            Some(stage) if stage.terminal => Err(StageError::Closing {
                name: stage.name.clone(),
            }),
            Some(stage) => Ok(stage),
            None => Err(StageError::Unknown {
                name: to_stage.to_owned(),
                valid: self.open_stage_names(),
            }),
        }
    }
}

/// Why a stage cannot be advanced to.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum StageError {
    #[error("is required; choose one of: {}", valid.join(", "))]
    Missing { valid: Vec<String> },
    #[error("`{name}` is not a stage of this pipeline; choose one of: {}", valid.join(", "))]
    Unknown { name: String, valid: Vec<String> },
    #[error("`{name}` closes the opportunity; use CloseOpportunity to mark it won or lost")]
    Closing { name: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pipeline_runs_from_lead_to_won_and_lost() {
        let p = Pipeline::default_pipeline();
        let names: Vec<_> = p.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "lead",
                "qualified",
                "needs_analysis",
                "proposal",
                "negotiation",
                "won",
                "lost"
            ]
        );
        assert_eq!(p.entry_stage().map(|s| s.name.as_str()), Some("lead"));
        assert_eq!(p.order_of("proposal"), 3);
        assert_eq!(
            p.stage("negotiation").map(|s| s.win_probability),
            Some(0.70)
        );
        assert!(
            p.stage(WON)
                .is_some_and(|s| s.terminal && s.win_probability == 1.0)
        );
        assert!(
            p.stage(LOST)
                .is_some_and(|s| s.terminal && s.win_probability == 0.0)
        );
        assert_eq!(p.stages.iter().filter(|s| s.terminal).count(), 2);
    }

    #[test]
    fn advancing_accepts_open_stages_only() {
        let p = Pipeline::default_pipeline();
        assert_eq!(p.advance_target(" proposal ").map(|s| s.order), Ok(3));
        assert_eq!(
            p.advance_target("won"),
            Err(StageError::Closing { name: "won".into() })
        );
        let err = p.advance_target("lost").unwrap_err().to_string();
        assert!(err.contains("CloseOpportunity"), "{err}");
        let err = p.advance_target("closing").unwrap_err();
        assert!(matches!(&err, StageError::Unknown { valid, .. } if valid.len() == 5));
        let message = err.to_string();
        assert!(
            message.contains("closing") && message.contains("lead, qualified"),
            "{message}"
        );
        assert!(matches!(
            p.advance_target(""),
            Err(StageError::Missing { .. })
        ));
    }

    #[test]
    fn stages_are_kept_in_order_whatever_order_they_come_in() {
        let mut stages = Pipeline::default_pipeline().stages;
        stages.reverse();
        let p = Pipeline::new("p".into(), "P".into(), String::new(), 1, stages);
        assert_eq!(p.stages.first().map(|s| s.name.as_str()), Some("lead"));
        assert_eq!(
            p.open_stage_names().last().map(String::as_str),
            Some("negotiation")
        );
    }
}
