//! A pipeline as an admin defines it (UpsertPipeline): the open stages in order, each
//! with a win probability and a gate; won and lost are always added at the end, so every
//! pipeline closes the same way and reports can compare them.

use super::gate::StageGate;
use super::stage::{LOST, Pipeline, Stage, WON};

pub const MAX_STAGES: usize = 30;
pub const STAGE_NAME_MAX_CHARS: usize = 64;
pub const PIPELINE_NAME_MAX_CHARS: usize = 200;
pub const PIPELINE_ID_MAX_LEN: usize = 64;

/// One open stage as defined.
#[derive(Clone, Debug, PartialEq)]
pub struct StageDefinition {
    pub name: String,
    pub win_probability: f64,
    pub gate: StageGate,
}

/// A field of the definition and what is wrong with it ("stages[2].name", "...").
pub type Violation = (String, String);

/// A pipeline id: 1 to 64 lowercase ASCII letters, digits, '-' or '_'.
pub fn valid_pipeline_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= PIPELINE_ID_MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// The pipeline `stages` define (version 0: the store numbers versions), or every
/// violation found.
pub fn define(
    pipeline_id: &str,
    name: &str,
    team: &str,
    stages: Vec<StageDefinition>,
) -> Result<Pipeline, Vec<Violation>> {
    let mut violations = Vec::new();
    let mut bad = |field: String, why: String| violations.push((field, why));
    if !valid_pipeline_id(pipeline_id) {
        bad(
            "pipeline_id".into(),
            format!(
                "`{pipeline_id}` is not a pipeline id: use 1 to {PIPELINE_ID_MAX_LEN} lowercase letters, digits, '-' or '_'"
            ),
        );
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > PIPELINE_NAME_MAX_CHARS {
        bad(
            "name".into(),
            format!("is required, at most {PIPELINE_NAME_MAX_CHARS} characters"),
        );
    }
    if team.trim().len() > 128 {
        bad("team".into(), "is longer than 128 bytes".into());
    }
    if stages.is_empty() || stages.len() > MAX_STAGES {
        bad(
            "stages".into(),
            format!("list 1 to {MAX_STAGES} open stages in order; won and lost are added for you"),
        );
    }
    let mut defined: Vec<Stage> = Vec::new();
    for (index, stage) in stages.into_iter().enumerate() {
        let at = |field: &str| format!("stages[{index}].{field}");
        let stage_name = stage.name.trim().to_owned();
        if stage_name.is_empty() || stage_name.chars().count() > STAGE_NAME_MAX_CHARS {
            bad(
                at("name"),
                format!("is required, at most {STAGE_NAME_MAX_CHARS} characters"),
            );
        } else if [WON, LOST].contains(&stage_name.to_lowercase().as_str()) {
            bad(
                at("name"),
                format!("`{stage_name}` is added for you at the end; list only open stages"),
            );
        } else if defined.iter().any(|s| s.name == stage_name) {
            bad(at("name"), format!("`{stage_name}` is listed twice"));
        }
        if !(0.0..=1.0).contains(&stage.win_probability) {
            bad(
                at("win_probability"),
                format!(
                    "must be between 0 and 1 (0.4 for 40 %), got {}",
                    stage.win_probability
                ),
            );
        }
        let gate = match stage.gate.checked() {
            Ok(gate) => gate,
            Err(err) => {
                bad(at("gate"), err.to_string());
                StageGate::default()
            }
        };
        defined.push(Stage {
            name: stage_name,
            order: u32::try_from(index).unwrap_or(u32::MAX),
            win_probability: stage.win_probability,
            terminal: false,
            gate,
        });
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    let open = u32::try_from(defined.len()).unwrap_or(u32::MAX);
    for (offset, (terminal, probability)) in [(WON, 1.0), (LOST, 0.0)].into_iter().enumerate() {
        defined.push(Stage {
            name: terminal.to_owned(),
            order: open + offset as u32,
            win_probability: probability,
            terminal: true,
            gate: StageGate::default(),
        });
    }
    Ok(Pipeline::new(
        pipeline_id.to_owned(),
        name.to_owned(),
        team.trim().to_owned(),
        0,
        defined,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::gate::RequiredField;

    fn stage(name: &str, p: f64) -> StageDefinition {
        StageDefinition {
            name: name.into(),
            win_probability: p,
            gate: StageGate::default(),
        }
    }

    #[test]
    fn open_stages_are_ordered_and_won_and_lost_close_every_pipeline() {
        let p = define(
            "east",
            " East ",
            "team_east",
            vec![stage("初步接触", 0.1), stage("方案", 0.5)],
        )
        .unwrap();
        let names: Vec<_> = p
            .stages
            .iter()
            .map(|s| (s.name.as_str(), s.order, s.terminal))
            .collect();
        assert_eq!(
            names,
            [
                ("初步接触", 0, false),
                ("方案", 1, false),
                ("won", 2, true),
                ("lost", 3, true)
            ]
        );
        assert_eq!((p.name.as_str(), p.team.as_str()), ("East", "team_east"));
    }

    #[test]
    fn every_bad_part_is_named() {
        let mut gated = stage("proposal", 0.4);
        gated.gate.required_fields.push(RequiredField {
            field: "Bad Key".into(),
            label_zh: String::new(),
            label_en: String::new(),
        });
        let err = define(
            "East!",
            "",
            "",
            vec![stage("a", 1.5), stage("a", 0.1), stage("Won", 0.9), gated],
        )
        .unwrap_err();
        let fields: Vec<_> = err.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "pipeline_id",
                "name",
                "stages[0].win_probability",
                "stages[1].name",
                "stages[2].name",
                "stages[3].gate"
            ]
        );
        assert!(define("p", "P", "", vec![]).is_err());
    }
}
