//! Ownership transfers from the assignment service (hand-over, recycling to the pool)
//! move open opportunities, record it in their history and publish owner_changed. On
//! SQLite and on PostgreSQL.

mod support;

use shangji_contracts::events::Event as _;
use shangji_contracts::events::lead::OwnershipTransferred;
use shangji_contracts::events::opportunity::OpportunityOwnerChanged;
use shangji_contracts::pipeline::{GetHistoryRequest, GetOpportunityRequest, OpportunityStatus};
use support::{Backend, Harness, open_opportunity, request};

const TENANT: &str = "acme";

#[tokio::test]
async fn ownership_transfers_on_sqlite() {
    ownership_transfers(Backend::Sqlite).await;
}

#[tokio::test]
async fn ownership_transfers_on_postgres() {
    ownership_transfers(Backend::Postgres).await;
}

fn transfer(id: &str, customer: &str, from: &str, to: &str, reason: &str) -> OwnershipTransferred {
    OwnershipTransferred {
        transfer_id: id.into(),
        customer_id: customer.into(),
        from_rep_id: from.into(),
        to_rep_id: to.into(),
        team: "east".into(),
        reason: reason.into(),
        rule: "policy-7".into(),
        ..OwnershipTransferred::default()
    }
}

async fn ownership_transfers(backend: Backend) {
    let h = Harness::start_on(backend).await;
    let mut client = h.client().await;
    let opp = open_opportunity(&h, TENANT, "lead_1", "cus_1", "wang", "east")
        .await
        .opportunity_id;
    let marker = open_opportunity(&h, TENANT, "lead_2", "cus_2", "wang", "east")
        .await
        .opportunity_id;

    // Hand-over: wang departs, li takes the customer's open opportunity.
    h.publish(
        TENANT,
        "t1",
        &transfer("t1", "cus_1", "wang", "li", "hand_over"),
    )
    .await;
    let (_, changed) = h
        .wait_for::<OpportunityOwnerChanged>("owner_changed to li", |e| e.to_rep_id == "li")
        .await;
    assert_eq!(
        (
            changed.opportunity_id.as_str(),
            changed.from_rep_id.as_str()
        ),
        (opp.as_str(), "wang")
    );

    // Recycling: no follow-up, back to the pool; still open, nobody owns it.
    let mut recycled = transfer("t2", "cus_1", "li", "", "recycled");
    recycled.opportunity_ids = vec![opp.clone()];
    let first = h.publish(TENANT, "t2", &recycled).await;
    h.wait_for::<OpportunityOwnerChanged>("owner_changed to the pool", |e| {
        e.from_rep_id == "li" && e.to_rep_id.is_empty()
    })
    .await;
    let got = client
        .get_opportunity(request(
            TENANT,
            GetOpportunityRequest {
                opportunity_id: opp.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .opportunity
        .unwrap();
    assert_eq!(got.owner_rep_id, "");
    assert_eq!(got.status, OpportunityStatus::Open as i32);

    // The same transfer again under a new message id changes nothing.
    h.publish_envelope(&OwnershipTransferred::subject(), &first, "again-t2")
        .await;
    h.publish(
        TENANT,
        "t3",
        &transfer("t3", "cus_1", "nobody", "zhao", "manual"),
    )
    .await;
    // One consumer applies transfers in order: once this one shows, the two above ran.
    h.publish(
        TENANT,
        "t4",
        &transfer("t4", "cus_2", "wang", "zhao", "manual"),
    )
    .await;
    h.wait_for::<OpportunityOwnerChanged>("the marker transfer", |e| e.opportunity_id == marker)
        .await;

    // A rep claims the pooled opportunity: the transfer comes from nobody.
    let mut claimed = transfer("t5", "cus_1", "", "zhao", "pool_claim");
    claimed.opportunity_ids = vec![opp.clone()];
    h.publish(TENANT, "t5", &claimed).await;
    h.wait_for::<OpportunityOwnerChanged>("owner_changed from the pool", |e| {
        e.opportunity_id == opp && e.from_rep_id.is_empty() && e.to_rep_id == "zhao"
    })
    .await;
    let owners = client
        .get_history(request(
            TENANT,
            GetHistoryRequest {
                opportunity_id: opp.clone(),
                field: "owner_rep_id".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .entries;
    let trail: Vec<_> = owners
        .iter()
        .map(|e| (e.old_value.as_str(), e.new_value.as_str()))
        .collect();
    assert_eq!(
        trail,
        [("", "wang"), ("wang", "li"), ("li", ""), ("", "zhao")]
    );
    assert_eq!(owners[1].note, "hand_over (policy-7)");
    assert_eq!(owners[2].note, "recycled (policy-7): returned to the pool");
    let changes = h
        .events_of::<OpportunityOwnerChanged>(|e| e.opportunity_id == opp)
        .await;
    assert_eq!(changes.len(), 3);
}
