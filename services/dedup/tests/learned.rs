//! Learned lead scoring from outcomes, end to end in-process (real nats-server, SQLite
//! and PostgreSQL): leads are qualified, pipeline's opportunity.created / won / lost
//! arrive, and the next leads are scored by the learned model, which separates the field
//! values that won from those that lost. Until enough outcomes, the rules score.

mod common;

use std::time::Duration;

use common::{QualifiedFeed, TENANT, as_tenant, lead, publish, received};
use shangji_contracts::dedup::dedup_service_client::DedupServiceClient;
use shangji_contracts::dedup::{
    ExplainScoreRequest, ExplainScoreResponse, GetScoringRulesRequest, UpsertScoringRulesRequest,
};
use shangji_contracts::events::Domain;
use shangji_contracts::events::opportunity::{
    OpportunityCreated, OpportunityLost, OpportunityReopened, OpportunityWon,
};
use shangji_platform::ids::{new_event_id, new_id};
use shangji_testkit::{NatsServer, Postgres};
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(15);
const GOOD_SOURCE: &str = "老客户转介绍";
const BAD_SOURCE: &str = "cold call list";

struct Journey {
    js: async_nats::jetstream::Context,
    qualified: QualifiedFeed,
    client: DedupServiceClient<Channel>,
}

impl Journey {
    /// Submits a lead from `source` as intake would and waits until it is qualified.
    async fn lead(&mut self, n: usize, source: &str) -> String {
        let lead_id = new_id("lead");
        let mut details = lead("客户", &format!("1380013{n:04}"), "");
        details.source = source.into();
        details.need = "CRM".into();
        publish(
            &self.js,
            TENANT,
            &lead_id,
            &received(&lead_id, details),
            &new_event_id(),
        )
        .await;
        let (_, event) = self.qualified.next(WAIT).await;
        assert_eq!(event.lead_id, lead_id);
        lead_id
    }

    /// pipeline's events for an opportunity opened by the lead and closed won or lost.
    async fn outcome(&self, lead_id: &str, won: bool) -> (String, u64) {
        let opportunity_id = new_id("opp");
        let created = OpportunityCreated {
            opportunity_id: opportunity_id.clone(),
            lead_id: lead_id.into(),
            ..OpportunityCreated::default()
        };
        publish(&self.js, TENANT, lead_id, &created, &new_event_id()).await;
        let seq = if won {
            let event = OpportunityWon {
                opportunity_id: opportunity_id.clone(),
                ..Default::default()
            };
            publish(&self.js, TENANT, lead_id, &event, &new_event_id()).await
        } else {
            let event = OpportunityLost {
                opportunity_id: opportunity_id.clone(),
                ..Default::default()
            };
            publish(&self.js, TENANT, lead_id, &event, &new_event_id()).await
        };
        (opportunity_id, seq)
    }

    async fn explain(&mut self, lead_id: &str) -> ExplainScoreResponse {
        self.client
            .explain_score(as_tenant(
                TENANT,
                ExplainScoreRequest {
                    lead_id: lead_id.into(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
    }

    async fn until_learned(&self, seq: u64) {
        shangji_testkit::events::wait_until_acked(
            &self.js,
            Domain::Opportunity,
            "dedup",
            seq,
            WAIT,
        )
        .await
        .unwrap();
    }
}

async fn learning_from_outcomes(database_url: Option<String>) {
    let nats = NatsServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dedup = common::start(common::settings(&nats.url(), data.path(), database_url)).await;
    let nats_client = async_nats::connect(nats.url()).await.unwrap();
    let mut journey = Journey {
        js: async_nats::jetstream::new(nats_client.clone()),
        qualified: QualifiedFeed::subscribe(&nats_client).await,
        client: common::client(&dedup).await,
    };

    // The tenant's rules: the built-in ones, learning after 10 outcomes.
    let mut rules = journey
        .client
        .get_scoring_rules(as_tenant(TENANT, GetScoringRulesRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .rules
        .unwrap();
    assert_eq!(rules.learned_min_outcomes, 30);
    rules.learned_min_outcomes = 10;
    journey
        .client
        .upsert_scoring_rules(as_tenant(
            TENANT,
            UpsertScoringRulesRequest {
                rules: Some(rules),
                base_version: 1,
                idempotency_key: "learn".into(),
            },
        ))
        .await
        .unwrap();

    // Twelve leads: referrals mostly win, cold calls mostly lose.
    let mut last_seq = 0;
    let mut first_won = String::new();
    for n in 0..12 {
        let referral = n % 2 == 0;
        let lead_id = journey
            .lead(n, if referral { GOOD_SOURCE } else { BAD_SOURCE })
            .await;
        // Before enough outcomes (at most n are known when lead n arrives), the rules
        // score; the learned model stays out.
        if n < 10 {
            let explained = journey.explain(&lead_id).await;
            assert_eq!(explained.model, "rules", "lead {n}");
            assert_eq!(explained.outcomes_learned, 0);
        }
        let won = if n < 2 { !referral } else { referral };
        let (opportunity_id, seq) = journey.outcome(&lead_id, won).await;
        if won && first_won.is_empty() {
            first_won = opportunity_id;
        }
        last_seq = seq;
    }
    journey.until_learned(last_seq).await;

    // Now the learned model scores, and it tells the two sources apart.
    let good = journey.lead(100, GOOD_SOURCE).await;
    let bad = journey.lead(101, BAD_SOURCE).await;
    let good = journey.explain(&good).await;
    let bad = journey.explain(&bad).await;
    for explained in [&good, &bad] {
        assert_eq!(explained.model, "learned");
        assert_eq!(explained.outcomes_learned, 12);
        assert_eq!(explained.rules_version, 2);
        assert!(explained.score > 0.0 && explained.score < 100.0);
        assert_eq!(explained.factors[0].factor, "prior");
        let log_odds: f64 = explained.factors.iter().map(|f| f.points).sum();
        let probability = 100.0 / (1.0 + (-log_odds).exp());
        assert!(
            (probability - explained.score).abs() < 1e-6,
            "{explained:?}"
        );
    }
    assert!(good.score > 70.0, "referrals won 5 of 6: {good:?}");
    assert!(bad.score < 30.0, "cold calls lost 5 of 6: {bad:?}");
    let source = |e: &ExplainScoreResponse| {
        e.factors
            .iter()
            .find(|f| f.factor == "source")
            .cloned()
            .unwrap()
    };
    assert!(source(&good).points > 0.0 && source(&bad).points < 0.0);
    assert!(
        source(&good).detail.contains("5 won, 1 lost"),
        "{:?}",
        source(&good)
    );
    // The rule score is kept beside the learned one: a referral earns its 5 points.
    assert_eq!(good.rule_score - bad.rule_score, 5.0);

    // A won event delivered again changes no count; reopening moves the outcome out of
    // the counts, and closing it lost counts it on the other side.
    let again = OpportunityWon {
        opportunity_id: first_won.clone(),
        ..Default::default()
    };
    publish(&journey.js, TENANT, "again", &again, &new_event_id()).await;
    let reopened = OpportunityReopened {
        opportunity_id: first_won.clone(),
        ..Default::default()
    };
    publish(&journey.js, TENANT, "again", &reopened, &new_event_id()).await;
    let seq = publish(&journey.js, TENANT, "again", &again, &new_event_id()).await;
    journey.until_learned(seq).await;
    let after = journey.lead(102, GOOD_SOURCE).await;
    assert_eq!(journey.explain(&after).await.outcomes_learned, 12);
    let reopened_seq = publish(&journey.js, TENANT, "again", &reopened, &new_event_id()).await;
    journey.until_learned(reopened_seq).await;
    let withdrawn = journey.lead(103, GOOD_SOURCE).await;
    assert_eq!(journey.explain(&withdrawn).await.outcomes_learned, 11);

    dedup.stop().await.unwrap();
}

#[tokio::test]
async fn learned_score_separates_winning_and_losing_values_on_sqlite() {
    learning_from_outcomes(None).await;
}

#[tokio::test]
async fn learned_score_separates_winning_and_losing_values_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    learning_from_outcomes(Some(
        postgres.create_database("dedup_learned").await.unwrap(),
    ))
    .await;
}
