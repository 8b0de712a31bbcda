//! Approvals (审批): per-tenant rules such as "a discount over 15 % needs the team
//! manager", requests against an opportunity, and who may decide them. A stage gate can
//! wait for an approved request of a type ("a quote approved before negotiation").

use super::access::Viewer;

/// Who decides requests a rule catches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approver {
    /// A manager of the opportunity's team or of a team above it (or an admin).
    TeamManager,
    /// A tenant admin.
    Admin,
    /// One of these reps.
    Named(Vec<String>),
}

impl Approver {
    pub fn as_str(&self) -> &'static str {
        match self {
            Approver::TeamManager => "team_manager",
            Approver::Admin => "admin",
            Approver::Named(_) => "named",
        }
    }

    pub fn from_parts(kind: &str, named: Vec<String>) -> Option<Approver> {
        match kind {
            "team_manager" => Some(Approver::TeamManager),
            "admin" => Some(Approver::Admin),
            "named" => Some(Approver::Named(named)),
            _ => None,
        }
    }

    pub fn named(&self) -> &[String] {
        match self {
            Approver::Named(reps) => reps,
            _ => &[],
        }
    }
}

/// When a request of `approval_type` needs a decision, and by whom.
#[derive(Clone, Debug, PartialEq)]
pub struct ApprovalRule {
    pub rule_id: String,
    pub approval_type: String,
    /// Applies when the requested discount is over this percentage (0: not a condition).
    pub discount_over_percent: f64,
    /// Applies when the amount is over this (0: not a condition).
    pub amount_over: f64,
    pub approver: Approver,
}

impl ApprovalRule {
    /// A rule with no condition applies to every request of its type.
    pub fn applies(&self, discount_percent: f64, amount: f64) -> bool {
        let no_condition = self.discount_over_percent <= 0.0 && self.amount_over <= 0.0;
        no_condition
            || (self.discount_over_percent > 0.0 && discount_percent > self.discount_over_percent)
            || (self.amount_over > 0.0 && amount > self.amount_over)
    }
}

/// The rule that catches a request: the first (by rule id) of its type that applies.
pub fn rule_for<'r>(
    rules: &'r [ApprovalRule],
    approval_type: &str,
    discount_percent: f64,
    amount: f64,
) -> Option<&'r ApprovalRule> {
    let mut matching: Vec<&ApprovalRule> = rules
        .iter()
        .filter(|r| r.approval_type == approval_type && r.applies(discount_percent, amount))
        .collect();
    matching.sort_by(|a, b| a.rule_id.cmp(&b.rule_id));
    matching.into_iter().next()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Rejected,
}

impl ApprovalStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<ApprovalStatus> {
        match s {
            "pending" => Some(ApprovalStatus::Pending),
            "approved" => Some(ApprovalStatus::Approved),
            "rejected" => Some(ApprovalStatus::Rejected),
            _ => None,
        }
    }
}

/// A request for approval on an opportunity. Times are UTC milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Approval {
    pub approval_id: String,
    pub opportunity_id: String,
    pub approval_type: String,
    pub status: ApprovalStatus,
    /// Empty when no rule caught it (approved by policy at once).
    pub rule_id: String,
    pub approver: Approver,
    pub discount_percent: f64,
    pub amount: f64,
    pub note: String,
    pub requested_by: String,
    pub requested_at: i64,
    pub decided_by: String,
    pub decided_at: Option<i64>,
    pub decision_note: String,
}

/// Why a user may not decide a request.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum DecideError {
    #[error("approval {0} is already {1}; request a new one to change the outcome")]
    Decided(String, &'static str),
    #[error("you requested approval {0}; someone else must decide it")]
    OwnRequest(String),
    #[error("only {0} may decide approval {1}")]
    NotAnApprover(String, String),
}

/// Checks that `user_id` (as `viewer`) may decide `approval`, given the managers of the
/// opportunity's team and the teams above it.
pub fn check_decider(
    approval: &Approval,
    user_id: &str,
    viewer: &Viewer,
    team_managers: &[String],
) -> Result<(), DecideError> {
    if approval.status != ApprovalStatus::Pending {
        return Err(DecideError::Decided(
            approval.approval_id.clone(),
            approval.status.as_str(),
        ));
    }
    if approval.requested_by == user_id {
        return Err(DecideError::OwnRequest(approval.approval_id.clone()));
    }
    // In a tenant without an organisation yet everyone counts as an admin (see access).
    let is_admin = viewer.is_admin();
    let allowed = match &approval.approver {
        Approver::TeamManager => is_admin || team_managers.iter().any(|m| m == user_id),
        Approver::Admin => is_admin,
        Approver::Named(reps) => reps.iter().any(|r| r == user_id),
    };
    if allowed {
        return Ok(());
    }
    let who = match &approval.approver {
        Approver::TeamManager if team_managers.is_empty() => {
            "the opportunity's team manager (none is known) or an admin".to_owned()
        }
        Approver::TeamManager => format!("{} or an admin", team_managers.join(", ")),
        Approver::Admin => "a tenant admin".to_owned(),
        Approver::Named(reps) => reps.join(", "),
    };
    Err(DecideError::NotAnApprover(
        who,
        approval.approval_id.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discount_rule() -> ApprovalRule {
        ApprovalRule {
            rule_id: "discount-15".into(),
            approval_type: "discount".into(),
            discount_over_percent: 15.0,
            amount_over: 0.0,
            approver: Approver::TeamManager,
        }
    }

    fn pending() -> Approval {
        Approval {
            approval_id: "apr_1".into(),
            opportunity_id: "opp_1".into(),
            approval_type: "discount".into(),
            status: ApprovalStatus::Pending,
            rule_id: "discount-15".into(),
            approver: Approver::TeamManager,
            discount_percent: 20.0,
            amount: 100.0,
            note: String::new(),
            requested_by: "wang".into(),
            requested_at: 1,
            decided_by: String::new(),
            decided_at: None,
            decision_note: String::new(),
        }
    }

    #[test]
    fn a_discount_over_the_threshold_needs_the_rule() {
        let rules = [discount_rule()];
        assert!(rule_for(&rules, "discount", 20.0, 1.0).is_some());
        assert!(
            rule_for(&rules, "discount", 15.0, 1.0).is_none(),
            "over, not at"
        );
        assert!(rule_for(&rules, "quote", 20.0, 1.0).is_none());
        let always = ApprovalRule {
            rule_id: "quote".into(),
            approval_type: "quote".into(),
            discount_over_percent: 0.0,
            amount_over: 0.0,
            approver: Approver::Admin,
        };
        assert!(always.applies(0.0, 0.0));
    }

    #[test]
    fn only_an_allowed_approver_other_than_the_requester_decides() {
        let managers = vec!["zhou".to_owned(), "boss".to_owned()];
        let rep = Viewer::Scoped {
            rep_id: "x".into(),
            teams: vec![],
        };
        assert_eq!(check_decider(&pending(), "zhou", &rep, &managers), Ok(()));
        let err = check_decider(&pending(), "li", &rep, &managers).unwrap_err();
        assert!(err.to_string().contains("zhou, boss or an admin"), "{err}");
        assert!(matches!(
            check_decider(&pending(), "wang", &rep, &managers),
            Err(DecideError::OwnRequest(_))
        ));
        let admin = Viewer::Admin {
            rep_id: "root".into(),
        };
        assert_eq!(check_decider(&pending(), "root", &admin, &[]), Ok(()));
        let mut decided = pending();
        decided.status = ApprovalStatus::Approved;
        assert!(matches!(
            check_decider(&decided, "zhou", &rep, &managers),
            Err(DecideError::Decided(..))
        ));
    }
}
