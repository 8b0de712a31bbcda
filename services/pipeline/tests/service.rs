//! The pipeline as other services and reps meet it: real NATS JetStream, real gRPC,
//! SQLite in a temp dir.

mod support;

use shangji_contracts::events::opportunity::{
    OpportunityActivityLogged, OpportunityCreated, OpportunityLost, OpportunityStageChanged,
    OpportunityWon,
};
use shangji_contracts::pipeline::{
    AdvanceStageRequest, CloseOpportunityRequest, CloseOutcome, GetOpportunityRequest,
    GetPipelineRequest, ListOpportunitiesRequest, LogActivityRequest, OpportunityStatus,
};
use shangji_contracts::time::{from_millis, to_millis};
use support::{Harness, bad_fields, captured_lead, lead_assigned, request};
use tonic::Code;

const TENANT: &str = "acme";

/// Publishes an assignment of `lead_id` and waits until it opened an opportunity.
async fn open_from_lead(
    h: &Harness,
    tenant: &str,
    lead_id: &str,
    customer_id: &str,
    budget: &str,
) -> OpportunityCreated {
    let lead = captured_lead("华信科技", "100台服务器", budget, "web_form");
    h.publish_lead(
        tenant,
        &lead_assigned(lead_id, customer_id, "rep_wang", lead),
    )
    .await;
    let (_, created) = h
        .wait_for::<OpportunityCreated>(&format!("opportunity.created for {lead_id}"), |e| {
            e.lead_id == lead_id
        })
        .await;
    created
}

#[tokio::test]
async fn assigned_leads_open_one_opportunity_per_customer_and_redeliveries_change_nothing() {
    let h = Harness::start().await;
    let mut client = h.client().await;

    // A lead for a new customer opens an opportunity in the first stage.
    let lead = captured_lead("华信科技", "  100台服务器 ", "50万", "web_form");
    let first = h
        .publish_lead(TENANT, &lead_assigned("lead_1", "cus_1", "rep_wang", lead))
        .await;
    let (envelope, created) = h
        .wait_for::<OpportunityCreated>("opportunity.created for lead_1", |e| e.lead_id == "lead_1")
        .await;
    assert_eq!(envelope.tenant_id, TENANT);
    assert_eq!(
        envelope.correlation_id, "lead_1",
        "the lead's journey continues"
    );
    assert_eq!(envelope.causation_id, first.event_id);
    assert_eq!(envelope.producer, "pipeline");
    assert_eq!((created.stage.as_str(), created.stage_order), ("lead", 0));
    assert_eq!(
        (created.amount, created.currency.as_str()),
        (500_000.0, "CNY")
    );
    assert_eq!(created.owner_rep_id, "rep_wang");
    assert_eq!(created.customer_id, "cus_1");
    assert_eq!(created.name, "华信科技 · 100台服务器");
    assert_eq!(
        (
            created.source.as_str(),
            created.region.as_str(),
            created.industry.as_str(),
            created.team.as_str()
        ),
        ("web_form", "华东", "制造", "east")
    );
    assert_eq!(created.pipeline_id, "default");
    assert!(created.created_at.is_some());

    let listed = client
        .list_opportunities(request(TENANT, ListOpportunitiesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total_count, 1);
    let opp = &listed.opportunities[0];
    assert_eq!(opp.opportunity_id, created.opportunity_id);
    assert_eq!(
        (opp.owner_rep_id.as_str(), opp.stage.as_str(), opp.amount),
        ("rep_wang", "lead", 500_000.0)
    );
    assert_eq!(opp.status, OpportunityStatus::Open as i32);
    assert_eq!(opp.lead_id, "lead_1");

    // A second lead for the same customer attaches to the open opportunity.
    let wechat = captured_lead("华信科技", "追加 20 台", "10万", "wechat");
    let second = h
        .publish_lead(
            TENANT,
            &lead_assigned("lead_2", "cus_1", "rep_wang", wechat),
        )
        .await;
    let (_, touch) = h
        .wait_for::<OpportunityActivityLogged>("touchpoint for lead_2", |e| e.lead_id == "lead_2")
        .await;
    assert_eq!(touch.opportunity_id, created.opportunity_id);
    assert_eq!(touch.kind, "touchpoint");
    assert_eq!(touch.summary, "new lead via wechat: 追加 20 台");
    assert_eq!(
        (touch.stage.as_str(), touch.owner_rep_id.as_str()),
        ("lead", "rep_wang")
    );

    // Redeliveries: the same event under a new Nats-Msg-Id (the inbox drops it), and
    // the same lead under a new event id (the lead link drops it).
    h.publish_envelope(&lead_assigned_subject(), &first, "republished-1")
        .await;
    h.publish_lead(
        TENANT,
        &lead_assigned(
            "lead_2",
            "cus_1",
            "rep_wang",
            captured_lead("华信科技", "x", "", "wechat"),
        ),
    )
    .await;
    h.publish_envelope(&lead_assigned_subject(), &second, "republished-2")
        .await;
    // The consumer handles the stream in order: once a later lead is through, so are they.
    open_from_lead(&h, TENANT, "lead_barrier", "cus_barrier", "").await;

    assert_eq!(
        h.events_of::<OpportunityCreated>(|e| e.customer_id == "cus_1")
            .await
            .len(),
        1
    );
    assert_eq!(
        h.events_of::<OpportunityActivityLogged>(|e| e.lead_id == "lead_2")
            .await
            .len(),
        1
    );
    let detail = client
        .get_opportunity(request(
            TENANT,
            GetOpportunityRequest {
                opportunity_id: created.opportunity_id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        detail.activities.len(),
        1,
        "one touchpoint: {:?}",
        detail.activities
    );
    assert_eq!(detail.activities[0].lead_id, "lead_2");
    assert_eq!(detail.activities[0].kind, "touchpoint");
    let fields: Vec<_> = detail
        .history
        .iter()
        .map(|h| (h.field.as_str(), h.new_value.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("created", "lead_1"),
            ("stage", "lead"),
            ("owner_rep_id", "rep_wang"),
            ("lead_attached", "lead_2")
        ]
    );
    let all = client
        .list_opportunities(request(
            TENANT,
            ListOpportunitiesRequest {
                customer_id: "cus_1".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.total_count, 1, "still one opportunity for cus_1");

    // An assignment that names no customer can never apply: it is dead-lettered, not dropped.
    let orphan = lead_assigned(
        "lead_orphan",
        "",
        "rep_wang",
        captured_lead("x", "y", "", "web"),
    );
    h.publish_lead(TENANT, &orphan).await;
    let errors = shangji_testkit::poll_until(
        "the orphan lead dead-lettered",
        support::WAIT,
        support::POLL,
        || async {
            let errors = h.dead_letter_errors().await;
            if errors.is_empty() {
                Err("no dead letter yet")
            } else {
                Ok(errors)
            }
        },
    )
    .await
    .unwrap();
    assert!(errors[0].contains("customer_id"), "{errors:?}");
}

fn lead_assigned_subject() -> String {
    use shangji_contracts::events::Event as _;
    shangji_contracts::events::lead::LeadAssigned::subject()
}

#[tokio::test]
async fn reps_move_log_and_close_opportunities_with_safe_retries() {
    let h = Harness::start().await;
    let mut client = h.client().await;
    let created = open_from_lead(&h, TENANT, "lead_1", "cus_1", "¥80,000").await;
    let id = created.opportunity_id.clone();
    assert_eq!(created.amount, 80_000.0);

    let pipeline = client
        .get_pipeline(request(TENANT, GetPipelineRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (pipeline.pipeline_id.as_str(), pipeline.name.as_str()),
        ("default", "Default")
    );
    let stages: Vec<_> = pipeline
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.order, s.terminal))
        .collect();
    assert_eq!(stages[0], ("lead", 0, false));
    assert_eq!(stages[5..], [("won", 5, true), ("lost", 6, true)]);

    let advance = |to_stage: &str, key: &str| AdvanceStageRequest {
        idempotency_key: key.into(),
        opportunity_id: id.clone(),
        to_stage: to_stage.into(),
        amount: None,
        note: String::new(),
    };
    // Stage rules.
    let err = client
        .advance_stage(request(TENANT, advance("won", "")))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["to_stage"]);
    assert!(
        err.message().contains("CloseOpportunity"),
        "{}",
        err.message()
    );
    let err = client
        .advance_stage(request(TENANT, advance("closing", "")))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["to_stage"]);
    assert!(
        err.message().contains("needs_analysis"),
        "lists the stages: {}",
        err.message()
    );
    let mut unknown = advance("proposal", "");
    unknown.opportunity_id = "opp_nope".into();
    let err = client
        .advance_stage(request(TENANT, unknown))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let mut negative = advance("proposal", "");
    negative.amount = Some(-5.0);
    assert_eq!(
        bad_fields(
            &client
                .advance_stage(request(TENANT, negative))
                .await
                .unwrap_err()
        ),
        ["amount"]
    );

    // A move, retried with the same key: one change, one event, the same answer.
    let mut to_proposal = advance("proposal", "adv-1");
    to_proposal.amount = Some(650_000.0);
    to_proposal.note = "quoted".into();
    let moved = client
        .advance_stage(request(TENANT, to_proposal.clone()))
        .await
        .unwrap()
        .into_inner();
    let retried = client
        .advance_stage(request(TENANT, to_proposal.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(moved, retried);
    let opp = moved.opportunity.expect("opportunity");
    assert_eq!((opp.stage.as_str(), opp.amount), ("proposal", 650_000.0));
    let mut reused = to_proposal.clone();
    reused.to_stage = "negotiation".into();
    assert_eq!(
        bad_fields(
            &client
                .advance_stage(request(TENANT, reused))
                .await
                .unwrap_err()
        ),
        ["idempotency_key"]
    );
    // The same stage again is a no-op.
    let same = client
        .advance_stage(request(TENANT, advance("proposal", "adv-2")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        same.opportunity.expect("opportunity").stage_entered_at,
        opp.stage_entered_at
    );

    // Activities.
    let log = |kind: &str, summary: &str, key: &str| LogActivityRequest {
        idempotency_key: key.into(),
        opportunity_id: id.clone(),
        kind: kind.into(),
        summary: summary.into(),
        next_step: "send the revised quote".into(),
        next_follow_up_at: Some(from_millis(1_900_000_000_000)),
        ..Default::default()
    };
    let err = client
        .log_activity(request(TENANT, log("fax", "", "")))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["kind", "summary"]);
    assert!(
        err.message()
            .contains("call, visit, email, meeting, wechat, note"),
        "{}",
        err.message()
    );
    let too_long = "长".repeat(2001);
    assert_eq!(
        bad_fields(
            &client
                .log_activity(request(TENANT, log("call", &too_long, "")))
                .await
                .unwrap_err()
        ),
        ["summary"]
    );
    let logged = client
        .log_activity(request(
            TENANT,
            log("call", "went through the quote", "log-1"),
        ))
        .await
        .unwrap()
        .into_inner();
    let again = client
        .log_activity(request(
            TENANT,
            log("call", "went through the quote", "log-1"),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(logged, again);
    let activity = logged.activity.expect("activity");
    assert_eq!(
        (activity.kind.as_str(), activity.user_id.as_str()),
        ("call", "wang")
    );

    // Closing.
    let close = |outcome: CloseOutcome, reason: &str, key: &str| CloseOpportunityRequest {
        idempotency_key: key.into(),
        opportunity_id: id.clone(),
        outcome: outcome as i32,
        lost_reason: reason.into(),
        note: String::new(),
        amount: None,
    };
    assert_eq!(
        bad_fields(
            &client
                .close_opportunity(request(TENANT, close(CloseOutcome::Lost, " ", "")))
                .await
                .unwrap_err()
        ),
        ["lost_reason"]
    );
    assert_eq!(
        bad_fields(
            &client
                .close_opportunity(request(TENANT, close(CloseOutcome::Unspecified, "", "")))
                .await
                .unwrap_err()
        ),
        ["outcome"]
    );
    let mut win = close(CloseOutcome::Won, "", "close-1");
    win.amount = Some(600_000.0);
    let closed = client
        .close_opportunity(request(TENANT, win.clone()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        closed,
        client
            .close_opportunity(request(TENANT, win))
            .await
            .unwrap()
            .into_inner()
    );
    let closed = closed.opportunity.expect("opportunity");
    assert_eq!(closed.status, OpportunityStatus::Won as i32);
    assert_eq!((closed.stage.as_str(), closed.amount), ("won", 600_000.0));
    assert_eq!(
        closed.next_follow_up_at, None,
        "a won deal needs no follow-up"
    );

    // A closed opportunity stays closed.
    for status in [
        client
            .advance_stage(request(TENANT, advance("negotiation", "")))
            .await
            .unwrap_err(),
        client
            .close_opportunity(request(TENANT, close(CloseOutcome::Lost, "price", "")))
            .await
            .unwrap_err(),
        client
            .log_activity(request(TENANT, log("note", "after the fact", "")))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        assert!(
            status.message().contains("already won"),
            "{}",
            status.message()
        );
    }

    // Another opportunity, lost; its events come after everything above, so once they
    // are published every earlier event is too (the relay keeps outbox order).
    let other = open_from_lead(&h, TENANT, "lead_2", "cus_2", "").await;
    let lose = CloseOpportunityRequest {
        idempotency_key: "close-2".into(),
        opportunity_id: other.opportunity_id.clone(),
        outcome: CloseOutcome::Lost as i32,
        lost_reason: "chose a competitor".into(),
        note: "price".into(),
        amount: None,
    };
    client
        .close_opportunity(request(TENANT, lose))
        .await
        .unwrap();
    let (_, lost) = h
        .wait_for::<OpportunityLost>("opportunity.lost", |e| {
            e.opportunity_id == other.opportunity_id
        })
        .await;
    assert_eq!(
        (
            lost.reason.as_str(),
            lost.from_stage.as_str(),
            lost.note.as_str()
        ),
        ("chose a competitor", "lead", "price")
    );

    let moves = h
        .events_of::<OpportunityStageChanged>(|e| e.opportunity_id == id)
        .await;
    assert_eq!(
        moves.len(),
        1,
        "one stage change despite the retry and the no-op"
    );
    let (envelope, change) = &moves[0];
    assert_eq!(
        (
            change.from_stage.as_str(),
            change.from_stage_order,
            change.to_stage.as_str(),
            change.to_stage_order
        ),
        ("lead", 0, "proposal", 3)
    );
    assert_eq!((change.amount, change.note.as_str()), (650_000.0, "quoted"));
    assert_eq!(
        (envelope.user_id.as_str(), envelope.correlation_id.as_str()),
        ("wang", "lead_1")
    );
    let logs = h
        .events_of::<OpportunityActivityLogged>(|e| e.opportunity_id == id)
        .await;
    assert_eq!(logs.len(), 1);
    assert_eq!(
        logs[0].1.next_follow_up_at.as_ref().map(to_millis),
        Some(1_900_000_000_000)
    );
    assert_eq!(
        (logs[0].1.stage.as_str(), logs[0].1.owner_rep_id.as_str()),
        ("proposal", "rep_wang")
    );
    let wins = h
        .events_of::<OpportunityWon>(|e| e.opportunity_id == id)
        .await;
    assert_eq!(wins.len(), 1);
    assert_eq!(
        (wins[0].1.amount, wins[0].1.from_stage.as_str()),
        (600_000.0, "proposal")
    );

    let detail = client
        .get_opportunity(request(
            TENANT,
            GetOpportunityRequest {
                opportunity_id: id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner();
    let changes: Vec<_> = detail
        .history
        .iter()
        .map(|h| (h.field.as_str(), h.old_value.as_str(), h.new_value.as_str()))
        .collect();
    assert_eq!(
        changes,
        [
            ("created", "", "lead_1"),
            ("stage", "", "lead"),
            ("owner_rep_id", "", "rep_wang"),
            ("stage", "lead", "proposal"),
            ("amount", "80000", "650000"),
            ("next_follow_up_at", "", "1900000000000"),
            ("status", "open", "won"),
            ("stage", "proposal", "won"),
            ("amount", "650000", "600000"),
            ("next_follow_up_at", "1900000000000", ""),
        ]
    );
    assert_eq!(detail.history[3].note, "quoted");
    assert_eq!(detail.history[3].user_id, "wang");
    assert_eq!(
        detail.activities.len(),
        1,
        "the retried LogActivity logged once"
    );
}

#[tokio::test]
async fn lists_page_filter_and_keep_tenants_apart() {
    let h = Harness::start().await;
    let mut client = h.client().await;
    let mut ids = Vec::new();
    for n in 1..=3 {
        let created = open_from_lead(
            &h,
            TENANT,
            &format!("lead_{n}"),
            &format!("cus_{n}"),
            "1.5万元",
        )
        .await;
        assert_eq!(created.amount, 15_000.0);
        ids.push(created.opportunity_id);
    }
    ids.reverse(); // newest first

    let page = |size: u32, token: &str| ListOpportunitiesRequest {
        page_size: size,
        page_token: token.into(),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let response = client
            .list_opportunities(request(TENANT, page(2, &token)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.total_count, 3);
        assert!(response.opportunities.len() <= 2);
        seen.extend(response.opportunities.into_iter().map(|o| o.opportunity_id));
        if response.next_page_token.is_empty() {
            break;
        }
        token = response.next_page_token;
    }
    assert_eq!(seen, ids);
    let huge = client
        .list_opportunities(request(TENANT, page(100_000, "")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (huge.opportunities.len(), huge.next_page_token.as_str()),
        (3, "")
    );
    let err = client
        .list_opportunities(request(TENANT, page(2, "not-a-token")))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&err), ["page_token"]);

    let filtered = |owner: &str, stage: &str, status: OpportunityStatus| ListOpportunitiesRequest {
        owner_rep_id: owner.into(),
        stage: stage.into(),
        status: status as i32,
        ..Default::default()
    };
    let mine = client
        .list_opportunities(request(
            TENANT,
            filtered("rep_wang", "lead", OpportunityStatus::Open),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.total_count, 3);
    for (owner, stage, status) in [
        ("rep_li", "", OpportunityStatus::Unspecified),
        ("", "proposal", OpportunityStatus::Unspecified),
        ("", "", OpportunityStatus::Won),
    ] {
        let none = client
            .list_opportunities(request(TENANT, filtered(owner, stage, status)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            (none.total_count, none.opportunities.len()),
            (0, 0),
            "{owner} {stage} {status:?}"
        );
    }

    // Another tenant sees nothing of acme's.
    let theirs = client
        .list_opportunities(request("globex", ListOpportunitiesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((theirs.total_count, theirs.opportunities.len()), (0, 0));
    let err = client
        .get_opportunity(request(
            "globex",
            GetOpportunityRequest {
                opportunity_id: ids[0].clone(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .advance_stage(request(
            "globex",
            AdvanceStageRequest {
                opportunity_id: ids[0].clone(),
                to_stage: "qualified".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // No tenant, no answer.
    let err = client
        .list_opportunities(ListOpportunitiesRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = client
        .get_pipeline(GetPipelineRequest::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}
