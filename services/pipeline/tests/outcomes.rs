//! Won/lost: a per-tenant list of loss reasons (a lost deal picks one and writes a note)
//! and reopening, recorded and published. On SQLite and on PostgreSQL.

mod support;

use shangji_contracts::events::opportunity::OpportunityReopened;
use shangji_contracts::pipeline::{
    CloseOpportunityRequest, CloseOutcome, GetHistoryRequest, ListLossReasonsRequest, LossReason,
    OpportunityStatus, ReopenOpportunityRequest, UpsertLossReasonsRequest,
};
use support::{Backend, Harness, bad_fields, open_opportunity, request};
use tonic::Code;

const TENANT: &str = "acme";

#[tokio::test]
async fn loss_reasons_and_reopening_on_sqlite() {
    loss_reasons_and_reopening(Backend::Sqlite).await;
}

#[tokio::test]
async fn loss_reasons_and_reopening_on_postgres() {
    loss_reasons_and_reopening(Backend::Postgres).await;
}

fn reason(code: &str, zh: &str, en: &str) -> LossReason {
    LossReason {
        code: code.into(),
        label_zh: zh.into(),
        label_en: en.into(),
    }
}

fn lose(id: &str, key: &str, why: &str, note: &str) -> CloseOpportunityRequest {
    CloseOpportunityRequest {
        idempotency_key: key.into(),
        opportunity_id: id.into(),
        outcome: CloseOutcome::Lost as i32,
        lost_reason: why.into(),
        note: note.into(),
        amount: None,
    }
}

fn reopen(id: &str, key: &str, why: &str) -> ReopenOpportunityRequest {
    ReopenOpportunityRequest {
        idempotency_key: key.into(),
        opportunity_id: id.into(),
        to_stage: String::new(),
        reason: why.into(),
    }
}

async fn loss_reasons_and_reopening(backend: Backend) {
    let h = Harness::start_on(backend).await;
    let mut client = h.client().await;
    let bad = client
        .upsert_loss_reasons(request(
            TENANT,
            UpsertLossReasonsRequest {
                idempotency_key: "bad".into(),
                reasons: vec![reason("price", "价格", "price"), reason("price", "", "x")],
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&bad), ["reasons[1].code", "reasons[1].label_zh"]);
    client
        .upsert_loss_reasons(request(
            TENANT,
            UpsertLossReasonsRequest {
                idempotency_key: "reasons-1".into(),
                reasons: vec![
                    reason("price", "价格太高", "price too high"),
                    reason("competitor", "输给竞争对手", "lost to a competitor"),
                ],
            },
        ))
        .await
        .unwrap();
    let listed = client
        .list_loss_reasons(request(TENANT, ListLossReasonsRequest {}))
        .await
        .unwrap()
        .into_inner()
        .reasons;
    assert_eq!(listed.len(), 2);

    let opp = open_opportunity(&h, TENANT, "lead_1", "cus_1", "wang", "east")
        .await
        .opportunity_id;
    let status = client
        .close_opportunity(request(TENANT, lose(&opp, "lose-1", "too expensive", "")))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["lost_reason", "note"]);
    assert!(
        status
            .message()
            .contains("price (价格太高 / price too high)"),
        "{status:?}"
    );
    let lost = client
        .close_opportunity(request(
            TENANT,
            lose(&opp, "lose-2", "price", "客户预算砍半"),
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(lost.lost_reason, "price");

    // Reopen: back into the stage it was lost from, recorded and published.
    let status = client
        .reopen_opportunity(request(TENANT, reopen(&opp, "re-0", " ")))
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&status), ["reason"]);
    let reopened = client
        .reopen_opportunity(request(TENANT, reopen(&opp, "re-1", "预算恢复")))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(
        (
            reopened.status,
            reopened.stage.as_str(),
            reopened.lost_reason.as_str()
        ),
        (OpportunityStatus::Open as i32, "lead", "")
    );
    let (_, event) = h
        .wait_for::<OpportunityReopened>("opportunity.reopened", |e| e.opportunity_id == opp)
        .await;
    assert_eq!(
        (
            event.from_outcome.as_str(),
            event.stage.as_str(),
            event.reason.as_str()
        ),
        ("lost", "lead", "预算恢复")
    );
    let statuses = client
        .get_history(request(
            TENANT,
            GetHistoryRequest {
                opportunity_id: opp.clone(),
                field: "status".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    let trail: Vec<_> = statuses
        .iter()
        .map(|e| (e.old_value.as_str(), e.new_value.as_str()))
        .collect();
    assert_eq!(trail, [("open", "lost"), ("lost", "open")]);
    let status = client
        .reopen_opportunity(request(TENANT, reopen(&opp, "re-2", "again")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);

    // One open opportunity per customer: a newer one blocks reopening the old one.
    client
        .close_opportunity(request(
            TENANT,
            lose(&opp, "lose-3", "competitor", "选了友商"),
        ))
        .await
        .unwrap();
    open_opportunity(&h, TENANT, "lead_2", "cus_1", "wang", "east").await;
    let status = client
        .reopen_opportunity(request(TENANT, reopen(&opp, "re-3", "回来了")))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("already has an open opportunity"),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_retry_sent_while_the_first_close_runs_gets_its_answer_on_sqlite() {
    concurrent_retries_of_a_close(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_retry_sent_while_the_first_close_runs_gets_its_answer_on_postgres() {
    concurrent_retries_of_a_close(Backend::Postgres).await;
}

/// A client that times out and retries while its first call still runs: the retry
/// waits behind the first, then finds the deal closed. It must get the first call's
/// answer, not "already lost", whichever of the two gets there first.
async fn concurrent_retries_of_a_close(backend: Backend) {
    let h = Harness::start_on(backend).await;
    let client = h.client().await;
    for round in 0..5 {
        let opp = open_opportunity(
            &h,
            TENANT,
            &format!("lead_{round}"),
            &format!("cus_{round}"),
            "wang",
            "east",
        )
        .await
        .opportunity_id;
        let key = format!("lose-{round}");
        let calls = (0..4).map(|_| {
            let mut client = client.clone();
            let call = request(TENANT, lose(&opp, &key, "price", "预算砍了"));
            async move { client.close_opportunity(call).await }
        });
        let answers = futures::future::join_all(calls).await;
        let answers: Vec<_> = answers
            .into_iter()
            .map(|a| a.expect("every retry succeeds").into_inner())
            .collect();
        assert!(
            answers.iter().all(|a| a == &answers[0]),
            "round {round}: {answers:?}"
        );
        let closed = answers[0].opportunity.as_ref().unwrap();
        assert_eq!(closed.status, OpportunityStatus::Lost as i32);
    }
}
