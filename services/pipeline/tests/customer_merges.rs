//! Customer merges from dedup, followed by the pipeline on SQLite and on PostgreSQL:
//! opportunities move to the survivor with their history (both open: a parallel deal),
//! redelivery changes nothing, a late lead for the merged customer lands on the
//! survivor's opportunity, and an unmerge restores exactly what the merge moved (not
//! what changed since).

mod support;

use shangji_contracts::events::Event as _;
use shangji_contracts::events::lead::{CustomerMerged, CustomerUnmerged};
use shangji_contracts::events::opportunity::{OpportunityActivityLogged, OpportunityUpdated};
use shangji_contracts::pipeline::{
    CloseOpportunityRequest, CloseOutcome, GetHistoryRequest, GetOpportunityRequest,
    ListOpportunitiesRequest, Opportunity, OpportunityStatus, ReopenOpportunityRequest,
};
use support::{Backend, Harness, captured_lead, lead_assigned, open_opportunity, request};

const TENANT: &str = "acme";

#[tokio::test]
async fn customer_merges_on_sqlite() {
    customer_merges(Backend::Sqlite).await;
}

#[tokio::test]
async fn customer_merges_on_postgres() {
    customer_merges(Backend::Postgres).await;
}

fn merged(merge_id: &str, survivor: &str, merged: &[&str]) -> CustomerMerged {
    CustomerMerged {
        merge_id: merge_id.into(),
        survivor_customer_id: survivor.into(),
        merged_customer_ids: merged.iter().map(|c| (*c).to_owned()).collect(),
        decided_by: "mgr_zhou".into(),
        reason: "same phone and company".into(),
        merged_at: None,
    }
}

fn unmerged(merge_id: &str, survivor: &str, restored: &[&str]) -> CustomerUnmerged {
    CustomerUnmerged {
        merge_id: merge_id.into(),
        survivor_customer_id: survivor.into(),
        restored_customer_ids: restored.iter().map(|c| (*c).to_owned()).collect(),
        decided_by: "mgr_wu".into(),
        unmerged_at: None,
    }
}

async fn get(h: &Harness, id: &str) -> Opportunity {
    h.client()
        .await
        .get_opportunity(request(
            TENANT,
            GetOpportunityRequest {
                opportunity_id: id.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap()
}

/// (old value, new value, user) of every history line of `field`.
async fn trail(h: &Harness, id: &str, field: &str) -> Vec<(String, String, String)> {
    history(h, id, field)
        .await
        .into_iter()
        .map(|(old, new, user, _)| (old, new, user))
        .collect()
}

/// (old value, new value, user, note) of every history line of `field`.
async fn history(h: &Harness, id: &str, field: &str) -> Vec<(String, String, String, String)> {
    h.client()
        .await
        .get_history(request(
            TENANT,
            GetHistoryRequest {
                opportunity_id: id.into(),
                field: field.into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .entries
        .into_iter()
        .map(|e| (e.old_value, e.new_value, e.user_id, e.note))
        .collect()
}

fn line(old: &str, new: &str, user: &str) -> (String, String, String) {
    (old.into(), new.into(), user.into())
}

/// The customer's open opportunities, sorted by id.
async fn open_of(h: &Harness, customer: &str) -> Vec<String> {
    let mut ids: Vec<String> = h
        .client()
        .await
        .list_opportunities(request(
            TENANT,
            ListOpportunitiesRequest {
                customer_id: customer.into(),
                status: OpportunityStatus::Open as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunities
        .into_iter()
        .map(|o| o.opportunity_id)
        .collect();
    ids.sort();
    ids
}

/// Waits for the `opportunity.updated` moving `id` to `customer`.
async fn moved(h: &Harness, id: &str, customer: &str) -> OpportunityUpdated {
    h.wait_for::<OpportunityUpdated>(&format!("{id} moved to {customer}"), |e| {
        e.opportunity_id == id
            && e.customer_id == customer
            && e.changed_fields.iter().any(|f| f == "customer_id")
    })
    .await
    .1
}

/// Publishes an assignment of a new lead for `customer` and returns the opportunity
/// its touchpoint landed on.
async fn late_lead(h: &Harness, lead_id: &str, customer: &str, rep: &str) -> (String, String) {
    let lead = captured_lead("华信科技", "再来一批服务器", "", "wechat");
    h.publish_lead(TENANT, &lead_assigned(lead_id, customer, rep, lead))
        .await;
    let (_, touch) = h
        .wait_for::<OpportunityActivityLogged>(&format!("touchpoint for {lead_id}"), |e| {
            e.lead_id == lead_id
        })
        .await;
    (touch.opportunity_id, touch.customer_id)
}

async fn customer_merges(backend: Backend) {
    let h = Harness::start_on(backend).await;
    let mut client = h.client().await;
    // The survivor has a deal in flight; the merged customer has a lost one and a live one.
    let opp_s = open_opportunity(&h, TENANT, "lead_s", "cus_s", "wang", "east")
        .await
        .opportunity_id;
    let opp_lost = open_opportunity(&h, TENANT, "lead_m0", "cus_m", "li", "east")
        .await
        .opportunity_id;
    client
        .close_opportunity(request(
            TENANT,
            CloseOpportunityRequest {
                idempotency_key: "lose-m0".into(),
                opportunity_id: opp_lost.clone(),
                outcome: CloseOutcome::Lost as i32,
                lost_reason: "price".into(),
                note: "too expensive".into(),
                amount: None,
            },
        ))
        .await
        .unwrap();
    let opp_m = open_opportunity(&h, TENANT, "lead_m1", "cus_m", "li", "east")
        .await
        .opportunity_id;
    // A second pair: the survivor cus_x has nothing; cus_y's open deal becomes its primary.
    let opp_y = open_opportunity(&h, TENANT, "lead_y", "cus_y", "zhao", "west")
        .await
        .opportunity_id;

    // Merge m1: cus_m into cus_s. Both open: both stay open, cus_m's as a parallel deal.
    let first = h
        .publish(TENANT, "m1", &merged("m1", "cus_s", &["cus_m", "cus_s"]))
        .await;
    let update = moved(&h, &opp_m, "cus_s").await;
    assert_eq!(update.changed_fields, ["customer_id", "parallel_of"]);
    assert_eq!(
        update.owner_rep_id, "li",
        "owners move through assignment's transfer"
    );
    moved(&h, &opp_lost, "cus_s").await;
    assert_eq!(open_of(&h, "cus_s").await, sorted(&[&opp_s, &opp_m]));
    assert!(open_of(&h, "cus_m").await.is_empty());
    let lost = get(&h, &opp_lost).await;
    assert_eq!(
        (lost.customer_id.as_str(), lost.status),
        ("cus_s", OpportunityStatus::Lost as i32)
    );
    let customer_lines = history(&h, &opp_m, "customer_id").await;
    assert_eq!(
        customer_lines,
        [(
            "cus_m".to_owned(),
            "cus_s".to_owned(),
            "mgr_zhou".to_owned(),
            "customer merged into cus_s (merge m1)".to_owned()
        )]
    );
    assert_eq!(
        trail(&h, &opp_m, "parallel_of").await,
        [line("", &opp_s, "mgr_zhou")]
    );
    let joined = history(&h, &opp_s, "parallel_deal").await;
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].1, opp_m);
    assert!(joined[0].3.contains("merged customer cus_m"), "{joined:?}");
    assert!(
        trail(&h, &opp_s, "customer_id").await.is_empty(),
        "the survivor's own deal stays"
    );

    // Redelivery: the same event again, and the same merge under a new event id.
    h.publish_envelope(&CustomerMerged::subject(), &first, "again-m1")
        .await;
    h.publish(TENANT, "m1", &merged("m1", "cus_s", &["cus_m"]))
        .await;
    // Merge m2 (cus_y into cus_x) is handled after them by the same consumer.
    h.publish(TENANT, "m2", &merged("m2", "cus_x", &["cus_y"]))
        .await;
    let update = moved(&h, &opp_y, "cus_x").await;
    assert_eq!(update.changed_fields, ["customer_id"], "no parallel deal");
    assert_eq!(open_of(&h, "cus_x").await, vec![opp_y.clone()]);
    assert_eq!(
        h.events_of::<OpportunityUpdated>(|e| e.opportunity_id == opp_m)
            .await
            .len(),
        1,
        "the merge applied once"
    );
    assert_eq!(history(&h, &opp_m, "customer_id").await, customer_lines);
    assert_eq!(history(&h, &opp_s, "parallel_deal").await.len(), 1);

    // A late lead for a merged-away customer lands on the survivor's primary deal.
    assert_eq!(
        late_lead(&h, "lead_m2", "cus_m", "wang").await,
        (opp_s.clone(), "cus_s".to_owned())
    );
    assert_eq!(
        late_lead(&h, "lead_y2", "cus_y", "zhao").await,
        (opp_y.clone(), "cus_x".to_owned())
    );
    let attached = history(&h, &opp_s, "lead_attached").await;
    assert!(
        attached[0].3.ends_with("(lead for merged customer cus_m)"),
        "{attached:?}"
    );

    // m3 moves cus_x on to cus_z: opp_y's customer changes after m2, so undoing m2
    // leaves it with cus_z (and says so).
    h.publish(TENANT, "m3", &merged("m3", "cus_z", &["cus_x"]))
        .await;
    moved(&h, &opp_y, "cus_z").await;

    // Unmerge m1: cus_m gets back exactly its two opportunities; redelivered, nothing more.
    let undo = h
        .publish(TENANT, "u1", &unmerged("m1", "cus_s", &["cus_m"]))
        .await;
    let update = moved(&h, &opp_m, "cus_m").await;
    assert_eq!(update.changed_fields, ["customer_id", "parallel_of"]);
    moved(&h, &opp_lost, "cus_m").await;
    h.publish_envelope(&CustomerUnmerged::subject(), &undo, "again-u1")
        .await;
    h.publish(TENANT, "u1", &unmerged("m1", "cus_s", &[])).await;
    h.publish(TENANT, "u2", &unmerged("m2", "cus_x", &["cus_y"]))
        .await;
    poll_kept(&h, &opp_y).await;

    assert_eq!(
        trail(&h, &opp_m, "customer_id").await,
        [
            line("cus_m", "cus_s", "mgr_zhou"),
            line("cus_s", "cus_m", "mgr_wu")
        ]
    );
    assert_eq!(
        trail(&h, &opp_m, "parallel_of").await,
        [line("", &opp_s, "mgr_zhou"), line(&opp_s, "", "mgr_wu")]
    );
    assert_eq!(get(&h, &opp_lost).await.customer_id, "cus_m");
    assert_eq!(open_of(&h, "cus_s").await, vec![opp_s.clone()]);
    assert_eq!(open_of(&h, "cus_m").await, vec![opp_m.clone()]);
    assert_eq!(
        h.events_of::<OpportunityUpdated>(|e| e.opportunity_id == opp_m)
            .await
            .len(),
        2,
        "merged once, restored once"
    );
    let y = get(&h, &opp_y).await;
    assert_eq!(y.customer_id, "cus_z", "changed since m2: not restored");
    assert_eq!(
        trail(&h, &opp_y, "unmerge_skipped").await,
        [line("cus_y", "cus_z", "mgr_wu")]
    );

    // The merge no longer stands: a lead for cus_m lands on cus_m's own deal again.
    assert_eq!(
        late_lead(&h, "lead_m3", "cus_m", "li").await,
        (opp_m.clone(), "cus_m".to_owned())
    );

    // Merged again (m4): opp_m is a parallel deal of opp_s once more. Once the primary
    // is won, a new lead attaches to the parallel deal instead of opening a third, and
    // the won one cannot reopen next to it.
    h.publish(TENANT, "m4", &merged("m4", "cus_s", &["cus_m"]))
        .await;
    moved(&h, &opp_m, "cus_s").await;
    client
        .close_opportunity(request(
            TENANT,
            CloseOpportunityRequest {
                idempotency_key: "win-s".into(),
                opportunity_id: opp_s.clone(),
                outcome: CloseOutcome::Won as i32,
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(
        late_lead(&h, "lead_s2", "cus_s", "wang").await,
        (opp_m.clone(), "cus_s".to_owned())
    );
    let refused = client
        .reopen_opportunity(request(
            TENANT,
            ReopenOpportunityRequest {
                idempotency_key: "reopen-s".into(),
                opportunity_id: opp_s.clone(),
                reason: "客户追加订单".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );

    assert!(h.dead_letter_errors_of("pipeline-merges").await.is_empty());
    assert!(h.dead_letter_errors().await.is_empty());
}

fn sorted(ids: &[&String]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
    ids.sort();
    ids
}

/// Waits until the unmerge of m2 has recorded that opp_y stays where it is.
async fn poll_kept(h: &Harness, id: &str) {
    shangji_testkit::poll_until(
        "unmerge m2 handled",
        support::WAIT,
        support::POLL,
        || async move {
            if trail(h, id, "unmerge_skipped").await.is_empty() {
                Err("not yet")
            } else {
                Ok(())
            }
        },
    )
    .await
    .expect("unmerge m2 handled");
}
