//! Between the contract's messages and the domain's types.

use prost::Message as _;
use shangji_contracts::assignment::{
    AssignmentDecision, AssignmentRule as RuleMessage, AssignmentStrategy as ProtoStrategy,
    CandidateLoad, GetAssignmentResponse, OwnershipTransfer, PoolEntry as PoolEntryMessage,
    Rep as RepMessage, RepLoad as RepLoadMessage, RepProfile as RepProfileMessage, RepProfileLoad,
    RepRole, RuleConditions, RuleEvaluation, Team as TeamMessage, WorkingStatus as ProtoStatus,
};
use shangji_contracts::events::lead::LeadQualified;
use shangji_contracts::time::from_millis;
use shangji_platform::grpc::{ApiError, FieldViolation};

use crate::domain::{
    AssignmentRule, Conditions, Invalid, Rep, RepDraft, RepProfile, Role, Strategy, Team,
    WorkingStatus,
};
use crate::store::assignments::AssignmentRecord;
use crate::store::decisions::DecisionRecord;
use crate::store::pool::PoolEntry;
use crate::store::transfers::Transfer;

/// The basic `Rep` of `UpsertRep` over the stored profile: fields it does not carry
/// keep their stored values; `active: false` means on leave unless already departed.
pub fn draft_from_proto(rep: RepMessage, stored: Option<&RepProfile>) -> RepDraft {
    let kept = stored.cloned().unwrap_or_default();
    let status = match (rep.active, kept.status) {
        (true, _) => WorkingStatus::Active,
        (false, WorkingStatus::Departed) => WorkingStatus::Departed,
        (false, _) => WorkingStatus::OnLeave,
    };
    RepDraft {
        rep_id: rep.rep_id,
        name: rep.name,
        team: rep.team,
        regions: rep.regions,
        industries: rep.industries,
        capacity: rep.capacity,
        product_lines: kept.product_lines,
        skill_tier: kept.skill_tier,
        role: kept.role,
        status,
        max_daily_leads: kept.max_daily_leads,
        daily_claim_limit: kept.daily_claim_limit,
        email: kept.email,
    }
}

pub fn rep_to_proto(rep: &RepProfile) -> RepMessage {
    RepMessage {
        rep_id: rep.rep_id.clone(),
        name: rep.name.clone(),
        team: rep.team.clone(),
        regions: rep.regions.clone(),
        industries: rep.industries.clone(),
        capacity: rep.capacity,
        active: rep.is_active(),
    }
}

pub fn load_to_proto(rep: &Rep) -> RepLoadMessage {
    RepLoadMessage {
        rep: Some(rep_to_proto(&rep.profile)),
        // Counts are never negative; saturate rather than wrap if one ever were huge.
        open_count: u32::try_from(rep.load.open_count.max(0)).unwrap_or(u32::MAX),
        assigned_total: u64::try_from(rep.load.assigned_total).unwrap_or(0),
    }
}

pub fn assignment_to_proto(record: AssignmentRecord) -> GetAssignmentResponse {
    GetAssignmentResponse {
        lead_id: record.lead_id,
        customer_id: record.customer_id,
        rep_id: record.rep_id.unwrap_or_default(),
        rule: record.rule,
        reason: record.reason,
        pooled: record.pooled,
        candidate_rep_ids: record.candidates,
        decided_at: Some(from_millis(record.decided_at)),
    }
}

/// The domain names fields relative to the rep; the request nests it under `rep`.
pub fn invalid_rep(problems: Vec<Invalid>) -> ApiError {
    ApiError::invalid(
        problems
            .into_iter()
            .map(|p| FieldViolation::new(format!("rep.{}", p.field), p.reason))
            .collect(),
    )
}

/// The domain names fields relative to a nested message; the request nests it.
pub fn invalid(prefix: &str, problems: Vec<Invalid>) -> ApiError {
    ApiError::invalid(
        problems
            .into_iter()
            .map(|p| FieldViolation::new(format!("{prefix}.{}", p.field), p.reason))
            .collect(),
    )
}

pub fn team_to_proto(team: &Team) -> TeamMessage {
    TeamMessage {
        team_id: team.team_id.clone(),
        name: team.name.clone(),
        parent_team_id: team.parent_team_id.clone(),
        manager_rep_id: team.manager_rep_id.clone(),
        ancestor_team_ids: team.ancestors.clone(),
        version: u64::try_from(team.version).unwrap_or(0),
    }
}

pub fn draft_from_profile(p: RepProfileMessage) -> RepDraft {
    RepDraft {
        role: match RepRole::try_from(p.role).unwrap_or(RepRole::Unspecified) {
            RepRole::Manager => Role::Manager,
            RepRole::Admin => Role::Admin,
            RepRole::Rep | RepRole::Unspecified => Role::Rep,
        },
        status: status_filter(p.status).unwrap_or(WorkingStatus::Active),
        rep_id: p.rep_id,
        name: p.name,
        team: p.team_id,
        regions: p.regions,
        industries: p.industries,
        product_lines: p.product_lines,
        skill_tier: p.skill_tier,
        capacity: p.max_open_opportunities,
        max_daily_leads: p.max_new_leads_per_day,
        daily_claim_limit: p.daily_claim_limit,
        email: p.email,
    }
}

/// The status a request names; None for unspecified.
pub fn status_filter(status: i32) -> Option<WorkingStatus> {
    match ProtoStatus::try_from(status).unwrap_or(ProtoStatus::Unspecified) {
        ProtoStatus::Unspecified => None,
        ProtoStatus::Active => Some(WorkingStatus::Active),
        ProtoStatus::OnLeave => Some(WorkingStatus::OnLeave),
        ProtoStatus::Departed => Some(WorkingStatus::Departed),
    }
}

pub fn profile_to_proto(rep: &Rep) -> RepProfileMessage {
    let p = &rep.profile;
    RepProfileMessage {
        rep_id: p.rep_id.clone(),
        name: p.name.clone(),
        team_id: p.team.clone(),
        regions: p.regions.clone(),
        industries: p.industries.clone(),
        product_lines: p.product_lines.clone(),
        skill_tier: p.skill_tier.clone(),
        role: match p.role {
            Role::Rep => RepRole::Rep,
            Role::Manager => RepRole::Manager,
            Role::Admin => RepRole::Admin,
        } as i32,
        status: match p.status {
            WorkingStatus::Active => ProtoStatus::Active,
            WorkingStatus::OnLeave => ProtoStatus::OnLeave,
            WorkingStatus::Departed => ProtoStatus::Departed,
        } as i32,
        max_open_opportunities: p.capacity,
        max_new_leads_per_day: p.max_daily_leads,
        daily_claim_limit: p.daily_claim_limit,
        email: p.email.clone(),
        version: u64::try_from(rep.version).unwrap_or(0),
    }
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

pub fn profile_load_to_proto(rep: &Rep) -> RepProfileLoad {
    RepProfileLoad {
        profile: Some(profile_to_proto(rep)),
        open_opportunities: count(rep.load.open_count),
        leads_today: count(rep.load.leads_today),
        claims_today: count(rep.load.claims_today),
        assigned_total: u64::try_from(rep.load.assigned_total).unwrap_or(0),
    }
}

pub fn strategy_from_proto(s: i32) -> Strategy {
    match ProtoStrategy::try_from(s).unwrap_or(ProtoStrategy::Unspecified) {
        ProtoStrategy::Unspecified | ProtoStrategy::RoundRobin => Strategy::RoundRobin,
        ProtoStrategy::LeastLoaded => Strategy::LeastLoaded,
        ProtoStrategy::WeightedByCapacity => Strategy::WeightedByCapacity,
        ProtoStrategy::ToPool => Strategy::ToPool,
    }
}

pub fn rule_from_proto(r: RuleMessage) -> AssignmentRule {
    let c = r.conditions.unwrap_or_default();
    AssignmentRule {
        rule_id: r.rule_id,
        name: r.name,
        position: r.position,
        enabled: r.enabled,
        conditions: Conditions {
            regions: c.regions,
            industries: c.industries,
            sources: c.sources,
            product_lines: c.product_lines,
            company_keywords: c.company_keywords,
            custom_fields: c.custom_fields,
            grades: c.grades,
        },
        target_team: r.target_team_id,
        target_tier: r.target_skill_tier,
        strategy: strategy_from_proto(r.strategy),
        version: 0,
    }
}

pub fn rule_to_proto(r: &AssignmentRule) -> RuleMessage {
    let c = &r.conditions;
    RuleMessage {
        rule_id: r.rule_id.clone(),
        name: r.name.clone(),
        position: r.position,
        enabled: r.enabled,
        conditions: Some(RuleConditions {
            regions: c.regions.clone(),
            industries: c.industries.clone(),
            sources: c.sources.clone(),
            product_lines: c.product_lines.clone(),
            company_keywords: c.company_keywords.clone(),
            custom_fields: c.custom_fields.clone(),
            grades: c.grades.clone(),
        }),
        target_team_id: r.target_team.clone(),
        target_skill_tier: r.target_tier.clone(),
        strategy: match r.strategy {
            Strategy::RoundRobin => ProtoStrategy::RoundRobin,
            Strategy::LeastLoaded => ProtoStrategy::LeastLoaded,
            Strategy::WeightedByCapacity => ProtoStrategy::WeightedByCapacity,
            Strategy::ToPool => ProtoStrategy::ToPool,
        } as i32,
        version: u64::try_from(r.version).unwrap_or(0),
    }
}

pub fn pool_entry_to_proto(e: &PoolEntry) -> PoolEntryMessage {
    let lead = LeadQualified::decode(e.lead_event.as_slice()).unwrap_or_default();
    let captured = lead.lead.unwrap_or_default();
    PoolEntryMessage {
        entry_id: e.entry_id.clone(),
        kind: e.kind.clone(),
        lead_id: e.lead_id.clone(),
        customer_id: e.customer_id.clone(),
        opportunity_id: e.opportunity_id.clone(),
        team_id: e.team.clone(),
        reason: e.reason.clone(),
        auto_assign: e.auto_assign,
        previous_rep_id: e.previous_rep_id.clone(),
        region: captured.region,
        industry: captured.industry,
        grade: lead.grade,
        company: captured.company,
        pooled_at: Some(from_millis(e.pooled_at)),
    }
}

pub fn decision_to_proto(d: DecisionRecord) -> AssignmentDecision {
    AssignmentDecision {
        decision_id: d.decision_id,
        lead_id: d.lead_id,
        customer_id: d.customer_id,
        trigger: d.trigger,
        rules: d
            .audit
            .rules
            .into_iter()
            .map(|r| RuleEvaluation {
                rule_id: r.rule_id,
                name: r.name,
                position: r.position,
                matched: r.matched,
                detail: r.detail,
            })
            .collect(),
        matched_rule_id: d.audit.matched_rule,
        strategy: d.audit.strategy,
        candidates: d
            .audit
            .candidates
            .into_iter()
            .map(|c| CandidateLoad {
                rep_id: c.rep_id,
                team_id: c.team,
                skill_tier: c.tier,
                open_opportunities: count(c.open),
                max_open_opportunities: c.max_open,
                leads_today: count(c.leads_today),
                max_new_leads_per_day: c.max_daily,
                assigned_total: u64::try_from(c.assigned_total).unwrap_or(0),
                eligible: c.eligible,
                skipped_because: c.skipped_because,
            })
            .collect(),
        rep_id: d.rep_id,
        pooled: d.pooled,
        pool_team_id: d.pool_team,
        rule: d.rule,
        reason: d.reason,
        decided_at: Some(from_millis(d.decided_at)),
    }
}

pub fn transfer_to_proto(t: Transfer) -> OwnershipTransfer {
    OwnershipTransfer {
        transfer_id: t.transfer_id,
        customer_id: t.customer_id,
        from_rep_id: t.from_rep_id,
        to_rep_id: t.to_rep_id,
        team_id: t.team,
        reason: t.reason,
        rule: t.rule,
        note: t.note,
        opportunity_ids: t.opportunity_ids,
        lead_ids: t.lead_ids,
        transferred_at: Some(from_millis(t.transferred_at)),
    }
}
