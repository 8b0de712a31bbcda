//! The analytics service end to end: real NATS JetStream, the service in-process,
//! events published as intake's and pipeline's relays would, the funnel read via gRPC.

mod support;

use shangji_analytics::AnalyticsConfig;
use shangji_contracts::analytics::{FunnelRequest, FunnelResponse, FunnelStage};
use shangji_contracts::common::Lead;
use shangji_contracts::events::lead::LeadReceived;
use shangji_contracts::events::opportunity::{
    OpportunityCreated, OpportunityLost, OpportunityOwnerChanged, OpportunityStageChanged,
    OpportunityWon,
};
use shangji_contracts::events::{Domain, Envelope, Event};
use shangji_contracts::time::{from_millis, now_millis};
use support::{Harness, request};
use tonic::Code;

/// The events of one small journey: 3 leads, 3 opportunities opened in `lead` (100
/// each; o1 and o2 rep_a's, o3 rep_b's), o1 qualified at 300 and won at 500.
struct Journey {
    leads: Vec<LeadReceived>,
    created: Vec<OpportunityCreated>,
    qualified: OpportunityStageChanged,
    won: OpportunityWon,
}

fn journey() -> Journey {
    // A minute ago, so the later events of a test happen after the journey.
    let t0 = now_millis() - 60_000;
    let leads = (1..=3)
        .map(|i| LeadReceived {
            lead_id: format!("lead_{i}"),
            lead: Some(Lead {
                contact_name: format!("王先生 {i}"),
                source: "web_form".to_owned(),
                ..Default::default()
            }),
            channel: "grpc".to_owned(),
            received_at: Some(from_millis(t0)),
        })
        .collect();
    let created = [("o1", "rep_a"), ("o2", "rep_a"), ("o3", "rep_b")]
        .into_iter()
        .map(|(id, owner)| OpportunityCreated {
            opportunity_id: id.to_owned(),
            owner_rep_id: owner.to_owned(),
            lead_id: format!("lead_{id}"),
            stage: "lead".to_owned(),
            stage_order: 0,
            amount: 100.0,
            created_at: Some(from_millis(t0 + 1_000)),
            ..Default::default()
        })
        .collect();
    let qualified = OpportunityStageChanged {
        opportunity_id: "o1".to_owned(),
        owner_rep_id: "rep_a".to_owned(),
        from_stage: "lead".to_owned(),
        from_stage_order: 0,
        to_stage: "qualified".to_owned(),
        to_stage_order: 1,
        amount: 300.0,
        changed_at: Some(from_millis(t0 + 2_000)),
        ..Default::default()
    };
    let won = OpportunityWon {
        opportunity_id: "o1".to_owned(),
        owner_rep_id: "rep_a".to_owned(),
        amount: 500.0,
        from_stage: "qualified".to_owned(),
        closed_at: Some(from_millis(t0 + 3_000)),
        created_at: Some(from_millis(t0 + 1_000)),
        ..Default::default()
    };
    Journey {
        leads,
        created,
        qualified,
        won,
    }
}

fn stage(
    stage: &str,
    order: u32,
    count: u64,
    amount: f64,
    conversion_to_next: f64,
    current_count: u64,
) -> FunnelStage {
    FunnelStage {
        stage: stage.to_owned(),
        count,
        amount,
        conversion_to_next,
        current_count,
        order,
    }
}

/// The funnel of [`journey`] for the whole tenant.
fn expected_tenant_funnel() -> FunnelResponse {
    FunnelResponse {
        stages: vec![
            // All 3 reached lead (worth 100 + 100 + o1's 500 now); 2 still sit there; 1 of 3 went on.
            stage("lead", 0, 3, 700.0, 1.0 / 3.0, 2),
            // Only o1 reached qualified, and it was won.
            stage("qualified", 1, 1, 500.0, 1.0, 0),
            stage("won", 2, 1, 500.0, 0.0, 1),
        ],
        leads_received: 3,
        opportunities_won: 1,
        opportunities_lost: 0,
        won_amount: 500.0,
    }
}

async fn funnel(h: &Harness, tenant: &str, owner: &str) -> FunnelResponse {
    h.grpc
        .clone()
        .funnel(request(
            tenant,
            FunnelRequest {
                owner_rep_id: owner.to_owned(),
            },
        ))
        .await
        .expect("Funnel answers")
        .into_inner()
}

/// Publishes events and remembers them (to deliver them again) and the last stream
/// sequence per domain (to wait until they are consumed).
struct Published {
    events: Vec<(Envelope, String, Domain)>,
    last_lead: u64,
    last_opportunity: u64,
}

impl Published {
    fn new() -> Published {
        Published {
            events: Vec::new(),
            last_lead: 0,
            last_opportunity: 0,
        }
    }

    async fn publish<E: Event>(&mut self, h: &Harness, tenant: &str, event: &E) {
        let (envelope, seq) = h.publish(tenant, event).await;
        self.note(E::DOMAIN, seq);
        self.events.push((envelope, E::subject(), E::DOMAIN));
    }

    fn note(&mut self, domain: Domain, seq: u64) {
        match domain {
            Domain::Lead => self.last_lead = self.last_lead.max(seq),
            _ => self.last_opportunity = self.last_opportunity.max(seq),
        }
    }

    /// Every event again under a new message id, as a redelivery would bring it.
    async fn redeliver(&mut self, h: &Harness) {
        for (envelope, subject, domain) in self.events.clone() {
            let seq = h
                .publish_to(subject, &envelope, &format!("again-{}", envelope.event_id))
                .await;
            self.note(domain, seq);
        }
    }

    async fn consumed(&self, h: &Harness) {
        if self.last_lead > 0 {
            h.consumed(Domain::Lead, self.last_lead).await;
        }
        if self.last_opportunity > 0 {
            h.consumed(Domain::Opportunity, self.last_opportunity).await;
        }
    }
}

#[tokio::test]
async fn the_funnel_counts_leads_stages_and_wins() {
    let h = Harness::start(AnalyticsConfig::default()).await;
    let j = journey();
    let mut published = Published::new();
    for lead in &j.leads {
        published.publish(&h, "acme", lead).await;
    }
    for created in &j.created {
        published.publish(&h, "acme", created).await;
    }
    published.publish(&h, "acme", &j.qualified).await;
    published.publish(&h, "acme", &j.won).await;
    published.consumed(&h).await;

    assert_eq!(funnel(&h, "acme", "").await, expected_tenant_funnel());

    // One rep's opportunities; leads stay the tenant's.
    let rep_a = funnel(&h, "acme", "rep_a").await;
    assert_eq!(
        rep_a.stages,
        vec![
            stage("lead", 0, 2, 600.0, 0.5, 1),
            stage("qualified", 1, 1, 500.0, 1.0, 0),
            stage("won", 2, 1, 500.0, 0.0, 1)
        ]
    );
    assert_eq!(
        (
            rep_a.leads_received,
            rep_a.opportunities_won,
            rep_a.won_amount
        ),
        (3, 1, 500.0)
    );
    let rep_b = funnel(&h, "acme", "rep_b").await;
    assert_eq!(
        rep_b.stages,
        vec![
            stage("lead", 0, 1, 100.0, 0.0, 1),
            stage("qualified", 1, 0, 0.0, 0.0, 0),
            stage("won", 2, 0, 0.0, 0.0, 0)
        ]
    );
    assert_eq!((rep_b.opportunities_won, rep_b.won_amount), (0, 0.0));

    // Every event delivered a second time changes nothing.
    published.redeliver(&h).await;
    published.consumed(&h).await;
    assert_eq!(funnel(&h, "acme", "").await, expected_tenant_funnel());

    // A loss and a change of owner.
    let lost = OpportunityLost {
        opportunity_id: "o2".to_owned(),
        owner_rep_id: "rep_a".to_owned(),
        amount: 100.0,
        from_stage: "lead".to_owned(),
        reason: "price".to_owned(),
        closed_at: Some(from_millis(now_millis())),
        ..Default::default()
    };
    let moved = OpportunityOwnerChanged {
        opportunity_id: "o3".to_owned(),
        from_rep_id: "rep_b".to_owned(),
        to_rep_id: "rep_a".to_owned(),
        changed_at: Some(from_millis(now_millis())),
        ..Default::default()
    };
    let mut more = Published::new();
    more.publish(&h, "acme", &lost).await;
    more.publish(&h, "acme", &moved).await;
    more.consumed(&h).await;
    let after = funnel(&h, "acme", "").await;
    assert_eq!(after.stages[0], stage("lead", 0, 3, 700.0, 1.0 / 3.0, 1));
    assert_eq!((after.opportunities_won, after.opportunities_lost), (1, 1));
    assert_eq!(
        funnel(&h, "acme", "rep_b").await.stages[0],
        stage("lead", 0, 0, 0.0, 0.0, 0)
    );
    assert_eq!(
        funnel(&h, "acme", "rep_a").await.stages[0],
        stage("lead", 0, 3, 700.0, 1.0 / 3.0, 1)
    );

    // Another tenant sees none of it.
    let other = funnel(&h, "globex", "").await;
    assert_eq!(
        other,
        FunnelResponse {
            stages: vec![stage("won", 0, 0, 0.0, 0.0, 0)],
            ..Default::default()
        }
    );
    h.stop().await;
}

#[tokio::test]
async fn events_out_of_order_give_the_same_funnel() {
    let h = Harness::start(AnalyticsConfig::default()).await;
    let j = journey();
    let mut published = Published::new();
    // In order, for one tenant.
    for lead in &j.leads {
        published.publish(&h, "ordered", lead).await;
    }
    for created in &j.created {
        published.publish(&h, "ordered", created).await;
    }
    published.publish(&h, "ordered", &j.qualified).await;
    published.publish(&h, "ordered", &j.won).await;
    // Backwards, for another: won first, then the stage change, then the creations.
    published.publish(&h, "shuffled", &j.won).await;
    published.publish(&h, "shuffled", &j.qualified).await;
    for created in j.created.iter().rev() {
        published.publish(&h, "shuffled", created).await;
    }
    for lead in &j.leads {
        published.publish(&h, "shuffled", lead).await;
    }
    published.consumed(&h).await;

    assert_eq!(funnel(&h, "ordered", "").await, expected_tenant_funnel());
    assert_eq!(funnel(&h, "shuffled", "").await, expected_tenant_funnel());
    assert_eq!(
        funnel(&h, "shuffled", "rep_a").await,
        funnel(&h, "ordered", "rep_a").await
    );
    h.stop().await;
}

#[tokio::test]
async fn the_funnel_needs_a_tenant() {
    let h = Harness::start(AnalyticsConfig::default()).await;
    let err = h
        .grpc
        .clone()
        .funnel(tonic::Request::new(FunnelRequest::default()))
        .await
        .expect_err("no tenant refused");
    assert_eq!(err.code(), Code::Unauthenticated);
    let err = h
        .grpc
        .clone()
        .funnel(request(
            "acme",
            FunnelRequest {
                owner_rep_id: "x".repeat(200),
            },
        ))
        .await
        .expect_err("absurd owner refused");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("owner_rep_id"), "{}", err.message());
    h.stop().await;
}
