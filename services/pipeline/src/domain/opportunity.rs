//! An opportunity (商机) and the rules for changing it: how it is named when a lead
//! opens it, moving it between stages, and closing it as won or lost. Every change is
//! described as [`Change`]s for its history, so nothing changes silently.

use std::collections::BTreeMap;

use super::stage::{LOST, Stage, WON};

/// Longest need text kept in an opportunity's name.
pub const NAME_NEED_MAX_CHARS: usize = 80;
/// Longest free text (notes, summaries) accepted from a rep.
pub const TEXT_MAX_CHARS: usize = 2000;
/// Longest lost reason.
pub const LOST_REASON_MAX_CHARS: usize = 500;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Open,
    Won,
    Lost,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Won => "won",
            Status::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "open" => Some(Status::Open),
            "won" => Some(Status::Won),
            "lost" => Some(Status::Lost),
            _ => None,
        }
    }
}

/// How an opportunity ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Won,
    Lost,
}

impl Outcome {
    pub fn status(self) -> Status {
        match self {
            Outcome::Won => Status::Won,
            Outcome::Lost => Status::Lost,
        }
    }

    /// The terminal stage it ends in.
    pub fn stage(self) -> &'static str {
        match self {
            Outcome::Won => WON,
            Outcome::Lost => LOST,
        }
    }
}

/// An opportunity as the pipeline keeps it. Times are UTC milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Opportunity {
    pub tenant_id: String,
    pub opportunity_id: String,
    pub customer_id: String,
    pub owner_rep_id: String,
    pub pipeline_id: String,
    pub stage: String,
    pub status: Status,
    pub amount: f64,
    pub currency: String,
    pub name: String,
    /// The lead that opened it.
    pub lead_id: String,
    pub source: String,
    pub region: String,
    pub industry: String,
    pub team: String,
    pub lost_reason: String,
    pub next_follow_up_at: Option<i64>,
    pub expected_close_at: Option<i64>,
    /// The version of its pipeline it follows: a pipeline change does not move it.
    pub pipeline_version: i64,
    /// Custom fields (decision_maker, ...) that stage gates can require.
    pub fields: BTreeMap<String, String>,
    pub stage_entered_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped by every update; an update names the version it read, so two concurrent
    /// changes cannot both apply on top of the same state.
    pub version: i64,
}

/// One line of history: `field` went from `old_value` to `new_value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// A column name, or `fields.<key>` for a custom field.
    pub field: String,
    pub old_value: String,
    pub new_value: String,
    pub note: String,
}

impl Change {
    pub fn new(
        field: impl Into<String>,
        old_value: impl Into<String>,
        new_value: impl Into<String>,
    ) -> Change {
        Change {
            field: field.into(),
            old_value: old_value.into(),
            new_value: new_value.into(),
            note: String::new(),
        }
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Change {
        self.note = note.into();
        self
    }
}

/// A history entry as stored. Times are UTC milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub field: String,
    pub old_value: String,
    pub new_value: String,
    pub user_id: String,
    pub at: i64,
    pub note: String,
}

/// The name of an opportunity a lead opens: who, then what they need
/// ("华信科技 · 100 台服务器"). The need is cut to [`NAME_NEED_MAX_CHARS`].
pub fn opportunity_name(company: &str, contact_name: &str, need: &str) -> String {
    let who = Some(company.trim())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| contact_name.trim());
    let need = truncate_chars(need.trim(), NAME_NEED_MAX_CHARS);
    match (who.is_empty(), need.is_empty()) {
        (false, false) => format!("{who} · {need}"),
        (false, true) => who.to_owned(),
        (true, false) => need,
        (true, true) => "unnamed opportunity".to_owned(),
    }
}

/// `text` cut to at most `max` characters, the last being "…" when something was cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// An amount as history shows it ("500000", "1234.5").
pub fn format_amount(amount: f64) -> String {
    format!("{amount}")
}

/// A time as history shows it: UTC milliseconds, or empty for none.
pub fn format_time(millis: Option<i64>) -> String {
    millis.map(|m| m.to_string()).unwrap_or_default()
}

/// Why an opportunity cannot change as asked.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ChangeError {
    #[error(
        "opportunity {opportunity_id} is already {status}; reopen it first (ReopenOpportunity)"
    )]
    Closed {
        opportunity_id: String,
        status: &'static str,
    },
}

pub fn ensure_open(opp: &Opportunity) -> Result<(), ChangeError> {
    match opp.status {
        Status::Open => Ok(()),
        closed => Err(ChangeError::Closed {
            opportunity_id: opp.opportunity_id.clone(),
            status: closed.as_str(),
        }),
    }
}

/// What AdvanceStage does to an opportunity.
#[derive(Debug, PartialEq)]
pub enum StageMove {
    /// Already in that stage (and no new amount): nothing to do.
    Unchanged,
    /// The stage stays but the amount changes.
    AmountOnly { changes: Vec<Change> },
    /// The stage changes (and perhaps the amount).
    Moved {
        from_stage: String,
        changes: Vec<Change>,
    },
}

/// Moves `opp` to `target` at `now`, with an optional new amount. A closed opportunity
/// cannot move; moving backwards is allowed (reps correct mistakes; history keeps both).
pub fn advance(
    opp: &mut Opportunity,
    target: &Stage,
    amount: Option<f64>,
    note: &str,
    now: i64,
) -> Result<StageMove, ChangeError> {
    ensure_open(opp)?;
    let mut changes = Vec::new();
    let from_stage = opp.stage.clone();
    let moved = from_stage != target.name;
    if moved {
        changes.push(Change::new("stage", from_stage.clone(), target.name.clone()).with_note(note));
        opp.stage = target.name.clone();
        opp.stage_entered_at = now;
    }
    if let Some(amount) = amount
        && amount != opp.amount
    {
        changes.push(
            Change::new("amount", format_amount(opp.amount), format_amount(amount)).with_note(note),
        );
        opp.amount = amount;
    }
    if changes.is_empty() {
        return Ok(StageMove::Unchanged);
    }
    opp.updated_at = now;
    Ok(if moved {
        StageMove::Moved {
            from_stage,
            changes,
        }
    } else {
        StageMove::AmountOnly { changes }
    })
}

/// Closes `opp` as `outcome` at `now`. Returns the stage it was in and the changes.
/// A closed opportunity needs no follow-up, so a planned one is cleared.
pub fn close(
    opp: &mut Opportunity,
    outcome: Outcome,
    lost_reason: &str,
    amount: Option<f64>,
    note: &str,
    now: i64,
) -> Result<(String, Vec<Change>), ChangeError> {
    ensure_open(opp)?;
    let from_stage = opp.stage.clone();
    let status = outcome.status();
    let mut changes = vec![
        Change::new("status", opp.status.as_str(), status.as_str()).with_note(note),
        Change::new("stage", from_stage.clone(), outcome.stage()),
    ];
    opp.status = status;
    opp.stage = outcome.stage().to_owned();
    opp.stage_entered_at = now;
    if outcome == Outcome::Lost {
        changes.push(Change::new(
            "lost_reason",
            opp.lost_reason.clone(),
            lost_reason,
        ));
        opp.lost_reason = lost_reason.to_owned();
    }
    if let Some(amount) = amount
        && amount != opp.amount
    {
        changes.push(Change::new(
            "amount",
            format_amount(opp.amount),
            format_amount(amount),
        ));
        opp.amount = amount;
    }
    if opp.next_follow_up_at.is_some() {
        changes.push(Change::new(
            "next_follow_up_at",
            format_time(opp.next_follow_up_at),
            "",
        ));
        opp.next_follow_up_at = None;
    }
    opp.updated_at = now;
    Ok((from_stage, changes))
}

/// Why a closed opportunity cannot be reopened as asked.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum ReopenError {
    #[error("opportunity {0} is open already")]
    Open(String),
    #[error("`{0}` closes the opportunity; reopen it into an open stage")]
    Terminal(String),
}

/// Opens the won or lost `opp` again in `stage` at `now`. Returns what it was (won or
/// lost) and the changes; the lost reason is cleared (history keeps it).
pub fn reopen(
    opp: &mut Opportunity,
    stage: &Stage,
    reason: &str,
    now: i64,
) -> Result<(Status, Vec<Change>), ReopenError> {
    let was = opp.status;
    if was == Status::Open {
        return Err(ReopenError::Open(opp.opportunity_id.clone()));
    }
    if stage.terminal {
        return Err(ReopenError::Terminal(stage.name.clone()));
    }
    let mut changes = vec![
        Change::new("status", was.as_str(), Status::Open.as_str()).with_note(reason),
        Change::new("stage", opp.stage.clone(), stage.name.clone()).with_note(reason),
    ];
    if !opp.lost_reason.is_empty() {
        changes.push(Change::new("lost_reason", opp.lost_reason.clone(), ""));
        opp.lost_reason.clear();
    }
    opp.status = Status::Open;
    opp.stage = stage.name.clone();
    opp.stage_entered_at = now;
    opp.updated_at = now;
    Ok((was, changes))
}

/// Plans the next follow-up of an open opportunity (from a logged activity).
pub fn plan_follow_up(
    opp: &mut Opportunity,
    at: Option<i64>,
    now: i64,
) -> Result<Vec<Change>, ChangeError> {
    ensure_open(opp)?;
    let mut changes = Vec::new();
    if let Some(at) = at
        && opp.next_follow_up_at != Some(at)
    {
        changes.push(Change::new(
            "next_follow_up_at",
            format_time(opp.next_follow_up_at),
            at.to_string(),
        ));
        opp.next_follow_up_at = Some(at);
    }
    opp.updated_at = now;
    Ok(changes)
}

/// Checks a required free-text field; returns it trimmed.
pub fn required_text(text: &str, max_chars: usize) -> Result<String, TextError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(TextError::Missing);
    }
    optional_text(text, max_chars)
}

/// Checks an optional free-text field; returns it trimmed.
pub fn optional_text(text: &str, max_chars: usize) -> Result<String, TextError> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(TextError::TooLong { max_chars, chars });
    }
    Ok(text.to_owned())
}

/// Checks an amount a rep typed in.
pub fn valid_amount(amount: f64) -> Result<f64, AmountError> {
    if !amount.is_finite() || amount < 0.0 {
        return Err(AmountError);
    }
    Ok(amount)
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum TextError {
    #[error("is required")]
    Missing,
    #[error("is {chars} characters long; at most {max_chars} are allowed")]
    TooLong { max_chars: usize, chars: usize },
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("must be a finite number of zero or more")]
pub struct AmountError;

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;

    pub fn open_opportunity() -> Opportunity {
        Opportunity {
            tenant_id: "acme".into(),
            opportunity_id: "opp_1".into(),
            customer_id: "cus_1".into(),
            owner_rep_id: "rep_1".into(),
            pipeline_id: "default".into(),
            stage: "lead".into(),
            status: Status::Open,
            amount: 500_000.0,
            currency: "CNY".into(),
            name: "华信 · 服务器".into(),
            lead_id: "lead_1".into(),
            source: "web".into(),
            region: String::new(),
            industry: String::new(),
            team: String::new(),
            lost_reason: String::new(),
            next_follow_up_at: Some(5),
            expected_close_at: None,
            pipeline_version: 1,
            fields: BTreeMap::new(),
            stage_entered_at: 1,
            created_at: 1,
            updated_at: 1,
            version: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tests_support::open_opportunity;
    use super::*;
    use crate::domain::stage::Pipeline;

    fn stage(name: &str) -> Stage {
        Pipeline::default_pipeline()
            .stage(name)
            .cloned()
            .expect("default stage")
    }

    #[test]
    fn names_say_who_and_what() {
        assert_eq!(
            opportunity_name(" 华信科技 ", "王先生", " 100台服务器 "),
            "华信科技 · 100台服务器"
        );
        assert_eq!(opportunity_name("", "王先生", "CRM"), "王先生 · CRM");
        assert_eq!(opportunity_name("华信", "", ""), "华信");
        assert_eq!(opportunity_name("", "", "CRM"), "CRM");
        assert_eq!(opportunity_name(" ", "", " "), "unnamed opportunity");
        let long = "需".repeat(200);
        let name = opportunity_name("华信", "", &long);
        let need = name.strip_prefix("华信 · ").expect("prefix");
        assert_eq!(need.chars().count(), NAME_NEED_MAX_CHARS);
        assert!(need.ends_with('…'));
    }

    #[test]
    fn advancing_moves_the_stage_and_records_it() {
        let mut opp = open_opportunity();
        let outcome = advance(&mut opp, &stage("proposal"), Some(650_000.0), "quoted", 10).unwrap();
        let StageMove::Moved {
            from_stage,
            changes,
        } = outcome
        else {
            panic!("expected a move, got {outcome:?}");
        };
        assert_eq!(from_stage, "lead");
        assert_eq!(opp.stage, "proposal");
        assert_eq!(opp.stage_entered_at, 10);
        assert_eq!(opp.amount, 650_000.0);
        let fields: Vec<_> = changes
            .iter()
            .map(|c| (c.field.as_str(), c.old_value.as_str(), c.new_value.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("stage", "lead", "proposal"),
                ("amount", "500000", "650000")
            ]
        );
        assert_eq!(changes[0].note, "quoted");
    }

    #[test]
    fn advancing_to_the_same_stage_changes_nothing() {
        let mut opp = open_opportunity();
        let before = opp.clone();
        assert_eq!(
            advance(&mut opp, &stage("lead"), None, "", 10),
            Ok(StageMove::Unchanged)
        );
        assert_eq!(
            advance(&mut opp, &stage("lead"), Some(500_000.0), "", 10),
            Ok(StageMove::Unchanged)
        );
        assert_eq!(opp, before);
        let amount_only = advance(&mut opp, &stage("lead"), Some(1.0), "", 10).unwrap();
        assert!(matches!(amount_only, StageMove::AmountOnly { changes } if changes.len() == 1));
        assert_eq!(opp.stage_entered_at, 1, "the stage did not change");
    }

    #[test]
    fn closed_opportunities_do_not_move() {
        let mut opp = open_opportunity();
        close(&mut opp, Outcome::Won, "", None, "", 10).unwrap();
        let err = advance(&mut opp, &stage("proposal"), None, "", 11).unwrap_err();
        assert!(err.to_string().contains("already won"), "{err}");
        assert!(close(&mut opp, Outcome::Lost, "price", None, "", 11).is_err());
        assert!(plan_follow_up(&mut opp, Some(20), 11).is_err());
    }

    #[test]
    fn losing_records_the_reason_and_clears_the_follow_up() {
        let mut opp = open_opportunity();
        opp.stage = "negotiation".into();
        let (from, changes) = close(
            &mut opp,
            Outcome::Lost,
            "price too high",
            None,
            "lost to rival",
            10,
        )
        .unwrap();
        assert_eq!(from, "negotiation");
        assert_eq!((opp.status, opp.stage.as_str()), (Status::Lost, "lost"));
        assert_eq!(opp.lost_reason, "price too high");
        assert_eq!(opp.next_follow_up_at, None);
        let fields: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            ["status", "stage", "lost_reason", "next_follow_up_at"]
        );
        assert_eq!(changes[0].note, "lost to rival");
    }

    #[test]
    fn winning_may_set_the_final_amount() {
        let mut opp = open_opportunity();
        let (_, changes) = close(&mut opp, Outcome::Won, "", Some(480_000.0), "", 10).unwrap();
        assert_eq!(
            (opp.status, opp.stage.as_str(), opp.amount),
            (Status::Won, "won", 480_000.0)
        );
        assert!(
            changes
                .iter()
                .any(|c| c.field == "amount" && c.new_value == "480000")
        );
    }

    #[test]
    fn closed_opportunities_reopen_into_an_open_stage() {
        let mut opp = open_opportunity();
        close(&mut opp, Outcome::Lost, "price", None, "", 10).unwrap();
        assert!(matches!(
            reopen(&mut opp, &stage("won"), "x", 11),
            Err(ReopenError::Terminal(_))
        ));
        let (was, changes) = reopen(&mut opp, &stage("proposal"), "budget came back", 12).unwrap();
        assert_eq!(was, Status::Lost);
        assert_eq!((opp.status, opp.stage.as_str()), (Status::Open, "proposal"));
        assert_eq!(opp.lost_reason, "");
        let fields: Vec<_> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["status", "stage", "lost_reason"]);
        assert!(matches!(
            reopen(&mut opp, &stage("lead"), "x", 13),
            Err(ReopenError::Open(_))
        ));
    }

    #[test]
    fn follow_ups_are_recorded_when_they_change() {
        let mut opp = open_opportunity();
        assert_eq!(plan_follow_up(&mut opp, None, 10).unwrap(), vec![]);
        assert_eq!(plan_follow_up(&mut opp, Some(5), 10).unwrap(), vec![]);
        let changes = plan_follow_up(&mut opp, Some(99), 10).unwrap();
        assert_eq!(changes, vec![Change::new("next_follow_up_at", "5", "99")]);
        assert_eq!(opp.next_follow_up_at, Some(99));
    }

    #[test]
    fn text_and_amount_checks() {
        assert_eq!(required_text("  hi ", 10), Ok("hi".into()));
        assert_eq!(required_text("   ", 10), Err(TextError::Missing));
        assert_eq!(optional_text("", 10), Ok(String::new()));
        assert!(matches!(
            optional_text(&"长".repeat(11), 10),
            Err(TextError::TooLong { chars: 11, .. })
        ));
        assert_eq!(valid_amount(0.0), Ok(0.0));
        assert_eq!(valid_amount(-1.0), Err(AmountError));
        assert_eq!(valid_amount(f64::NAN), Err(AmountError));
        assert_eq!(Status::parse("won"), Some(Status::Won));
        assert_eq!(Status::parse("closed"), None);
    }
}
