//! Stage gates: what must hold before an opportunity may enter a stage (budget and
//! decision maker known before "proposal", a first visit before "needs_analysis"), and
//! the list of what is missing, in words a rep understands, when it does not hold.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::activity::ActivityKind;
use super::approval::ApprovalStatus;
use super::opportunity::Opportunity;

/// Conditions to enter a stage.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageGate {
    #[serde(default)]
    pub required_fields: Vec<RequiredField>,
    #[serde(default)]
    pub required_activities: Vec<RequiredActivity>,
    #[serde(default)]
    pub required_approvals: Vec<RequiredApproval>,
}

/// An approved request of `approval_type` (the latest of that type must be approved).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredApproval {
    pub approval_type: String,
    #[serde(default)]
    pub label_zh: String,
    #[serde(default)]
    pub label_en: String,
}

/// A field that must be filled in: a built-in one (see [`BUILT_IN_FIELDS`]) or a custom
/// field's key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredField {
    pub field: String,
    /// What a rep reads when it is missing; built-in fields have labels of their own.
    #[serde(default)]
    pub label_zh: String,
    #[serde(default)]
    pub label_en: String,
}

/// At least `min_count` activities of `kind` logged on the opportunity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredActivity {
    pub kind: ActivityKind,
    pub min_count: u32,
}

/// Built-in fields a gate may require, with their labels (zh, en).
pub const BUILT_IN_FIELDS: [(&str, &str, &str); 4] = [
    ("amount", "金额", "amount"),
    ("currency", "币种", "currency"),
    ("expected_close_at", "预计成交日期", "expected close date"),
    ("name", "商机名称", "opportunity name"),
];

/// Longest custom field key.
pub const FIELD_KEY_MAX_LEN: usize = 64;

/// Why a gate definition is refused.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum GateError {
    #[error(
        "field `{0}` is not a field key: use 1 to {FIELD_KEY_MAX_LEN} lowercase letters, digits or '_'"
    )]
    BadFieldKey(String),
    #[error("field `{0}` is required twice")]
    DuplicateField(String),
    #[error("activity kind `{0}` is required twice")]
    DuplicateActivity(&'static str),
    #[error("touchpoints are recorded by the pipeline itself; a gate cannot require them")]
    Touchpoint,
    #[error(
        "approval type `{0}` is not a type name: use lowercase letters, digits or '_' (quote, discount)"
    )]
    BadApprovalType(String),
}

/// A custom field key: lowercase ASCII letters, digits and '_' ("decision_maker").
pub fn valid_field_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= FIELD_KEY_MAX_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl StageGate {
    /// Checks a gate as an admin defined it; `min_count` 0 reads as 1.
    pub fn checked(mut self) -> Result<StageGate, GateError> {
        let mut seen = Vec::new();
        for required in &mut self.required_fields {
            required.field = required.field.trim().to_owned();
            required.label_zh = required.label_zh.trim().to_owned();
            required.label_en = required.label_en.trim().to_owned();
            if !valid_field_key(&required.field) {
                return Err(GateError::BadFieldKey(required.field.clone()));
            }
            if seen.contains(&required.field) {
                return Err(GateError::DuplicateField(required.field.clone()));
            }
            seen.push(required.field.clone());
        }
        let mut kinds = Vec::new();
        for required in &mut self.required_activities {
            if required.kind == ActivityKind::Touchpoint {
                return Err(GateError::Touchpoint);
            }
            if kinds.contains(&required.kind) {
                return Err(GateError::DuplicateActivity(required.kind.as_str()));
            }
            kinds.push(required.kind);
            required.min_count = required.min_count.max(1);
        }
        for required in &mut self.required_approvals {
            required.approval_type = required.approval_type.trim().to_owned();
            if !valid_field_key(&required.approval_type) {
                return Err(GateError::BadApprovalType(required.approval_type.clone()));
            }
        }
        Ok(self)
    }

    pub fn is_empty(&self) -> bool {
        self.required_fields.is_empty()
            && self.required_activities.is_empty()
            && self.required_approvals.is_empty()
    }

    /// What `opp` lacks to pass this gate, given how many activities of each kind it has
    /// and the status of its latest request of each approval type.
    pub fn missing(
        &self,
        stage: &str,
        opp: &Opportunity,
        activity_counts: &BTreeMap<ActivityKind, u32>,
        approvals: &BTreeMap<String, ApprovalStatus>,
    ) -> Vec<MissingItem> {
        let mut missing = Vec::new();
        for required in &self.required_fields {
            if !is_filled(opp, &required.field) {
                let (zh, en) = field_labels(required);
                missing.push(MissingItem {
                    kind: MissingKind::Field,
                    subject: required.field.clone(),
                    stage: stage.to_owned(),
                    description: format!(
                        "进入「{stage}」前请填写{zh} / fill in the {en} before moving to {stage}"
                    ),
                });
            }
        }
        for required in &self.required_activities {
            let have = activity_counts.get(&required.kind).copied().unwrap_or(0);
            if have < required.min_count {
                let (zh, en) = activity_labels(required.kind);
                let need = required.min_count - have;
                missing.push(MissingItem {
                    kind: MissingKind::Activity,
                    subject: required.kind.as_str().to_owned(),
                    stage: stage.to_owned(),
                    description: format!(
                        "进入「{stage}」前还需记录 {need} 次{zh}（已有 {have} 次，需 {} 次） / log {need} more {en} before moving to {stage} ({have} of {} logged)",
                        required.min_count, required.min_count
                    ),
                });
            }
        }
        for required in &self.required_approvals {
            let kind = &required.approval_type;
            let zh = Some(required.label_zh.as_str())
                .filter(|l| !l.is_empty())
                .unwrap_or(kind);
            let en = Some(required.label_en.as_str())
                .filter(|l| !l.is_empty())
                .unwrap_or(kind);
            let description = match approvals.get(kind) {
                Some(ApprovalStatus::Approved) => continue,
                Some(ApprovalStatus::Pending) => format!(
                    "「{zh}」审批尚待决定，批准后才能进入「{stage}」 / the {en} approval is waiting for a decision; {stage} opens once it is approved"
                ),
                Some(ApprovalStatus::Rejected) => format!(
                    "「{zh}」审批被驳回，请修改后重新申请 / the {en} approval was rejected; change the request and ask again before moving to {stage}"
                ),
                None => format!(
                    "进入「{stage}」前需要「{zh}」审批通过，请先申请 / request {en} approval before moving to {stage}"
                ),
            };
            missing.push(MissingItem {
                kind: MissingKind::Approval,
                subject: kind.clone(),
                stage: stage.to_owned(),
                description,
            });
        }
        missing
    }
}

/// Whether the opportunity has a value for `field`. A zero amount is an unknown budget.
fn is_filled(opp: &Opportunity, field: &str) -> bool {
    match field {
        "amount" => opp.amount > 0.0,
        "currency" => !opp.currency.trim().is_empty(),
        "expected_close_at" => opp.expected_close_at.is_some(),
        "name" => !opp.name.trim().is_empty(),
        custom => opp
            .fields
            .get(custom)
            .is_some_and(|value| !value.trim().is_empty()),
    }
}

/// The (zh, en) words for a required field: the gate's labels, else the built-in ones,
/// else the key itself.
fn field_labels(required: &RequiredField) -> (String, String) {
    let built_in = BUILT_IN_FIELDS
        .iter()
        .find(|(key, _, _)| *key == required.field);
    let zh = Some(required.label_zh.clone())
        .filter(|l| !l.is_empty())
        .or_else(|| built_in.map(|(_, zh, _)| (*zh).to_owned()))
        .unwrap_or_else(|| required.field.clone());
    let en = Some(required.label_en.clone())
        .filter(|l| !l.is_empty())
        .or_else(|| built_in.map(|(_, _, en)| (*en).to_owned()))
        .unwrap_or_else(|| required.field.replace('_', " "));
    (zh, en)
}

fn activity_labels(kind: ActivityKind) -> (&'static str, &'static str) {
    match kind {
        ActivityKind::Call => ("电话", "call(s)"),
        ActivityKind::Visit => ("拜访", "visit(s)"),
        ActivityKind::Email => ("邮件", "e-mail(s)"),
        ActivityKind::Meeting => ("会议", "meeting(s)"),
        ActivityKind::Wechat => ("微信沟通", "WeChat conversation(s)"),
        ActivityKind::Note => ("备注", "note(s)"),
        ActivityKind::Touchpoint => ("新线索", "new lead(s)"),
    }
}

/// What kind of thing a gate found missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingKind {
    Field,
    Activity,
    Approval,
}

impl MissingKind {
    /// The `type` of a PreconditionFailure violation.
    pub fn as_str(self) -> &'static str {
        match self {
            MissingKind::Field => "FIELD",
            MissingKind::Activity => "ACTIVITY",
            MissingKind::Approval => "APPROVAL",
        }
    }
}

/// One thing a gate found missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MissingItem {
    pub kind: MissingKind,
    /// The field key or activity kind.
    pub subject: String,
    /// The stage whose gate asks for it.
    pub stage: String,
    /// Chinese, then English.
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::opportunity::tests_support::open_opportunity;

    fn gate() -> StageGate {
        StageGate {
            required_fields: vec![
                RequiredField {
                    field: "amount".into(),
                    label_zh: String::new(),
                    label_en: String::new(),
                },
                RequiredField {
                    field: "decision_maker".into(),
                    label_zh: "决策人".into(),
                    label_en: "decision maker".into(),
                },
            ],
            required_activities: vec![RequiredActivity {
                kind: ActivityKind::Visit,
                min_count: 2,
            }],
            required_approvals: vec![RequiredApproval {
                approval_type: "quote".into(),
                label_zh: "报价".into(),
                label_en: "quote".into(),
            }],
        }
    }

    #[test]
    fn a_gate_lists_every_missing_item_in_words_a_rep_reads() {
        let mut opp = open_opportunity();
        opp.amount = 0.0;
        let counts = BTreeMap::from([(ActivityKind::Visit, 1)]);
        let pending = BTreeMap::from([("quote".to_owned(), ApprovalStatus::Pending)]);
        let missing = gate().missing("proposal", &opp, &counts, &pending);
        let subjects: Vec<_> = missing.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(subjects, ["amount", "decision_maker", "visit", "quote"]);
        assert!(missing[3].description.contains("waiting for a decision"));
        assert_eq!(missing[3].kind, MissingKind::Approval);
        let rejected = BTreeMap::from([("quote".to_owned(), ApprovalStatus::Rejected)]);
        let missing = gate().missing("proposal", &opp, &counts, &rejected);
        assert!(missing[3].description.contains("驳回"));
        let missing = gate().missing("proposal", &opp, &counts, &BTreeMap::new());
        assert!(missing[3].description.contains("request quote approval"));
        assert!(missing[0].description.contains("金额"));
        assert!(missing[0].description.contains("fill in the amount"));
        assert!(missing[1].description.contains("决策人"));
        assert!(missing[1].description.contains("decision maker"));
        assert!(missing[2].description.contains("1 of 2"), "{missing:?}");
        assert_eq!(missing[2].kind, MissingKind::Activity);
    }

    #[test]
    fn a_filled_opportunity_passes() {
        let mut opp = open_opportunity();
        opp.fields.insert("decision_maker".into(), "李总".into());
        let counts = BTreeMap::from([(ActivityKind::Visit, 2)]);
        let approved = BTreeMap::from([("quote".to_owned(), ApprovalStatus::Approved)]);
        assert_eq!(gate().missing("proposal", &opp, &counts, &approved), vec![]);
        opp.fields.insert("decision_maker".into(), "  ".into());
        assert_eq!(
            gate().missing("proposal", &opp, &counts, &approved).len(),
            1
        );
    }

    #[test]
    fn gate_definitions_are_checked() {
        let mut bad = gate();
        bad.required_fields[1].field = "Decision Maker".into();
        assert!(matches!(bad.checked(), Err(GateError::BadFieldKey(_))));
        let mut twice = gate();
        twice.required_fields.push(twice.required_fields[0].clone());
        assert!(matches!(twice.checked(), Err(GateError::DuplicateField(_))));
        let mut zero = gate();
        zero.required_activities[0].min_count = 0;
        assert_eq!(zero.checked().unwrap().required_activities[0].min_count, 1);
        let mut touch = gate();
        touch.required_activities[0].kind = ActivityKind::Touchpoint;
        assert_eq!(touch.checked(), Err(GateError::Touchpoint));
    }
}
