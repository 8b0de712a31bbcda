//! Per-tenant match thresholds over gRPC: raising and lowering them changes what
//! CheckDuplicate and the lead.received consumer decide for the same lead; bad values
//! are refused field by field; retries are idempotent. Also the account and scoring
//! fields of lead.qualified. Real nats-server, on SQLite and on PostgreSQL.

mod common;

use std::time::Duration;

use common::{QualifiedFeed, TENANT, as_tenant, lead, publish, received};
use shangji_contracts::common::Lead;
use shangji_contracts::dedup::dedup_service_client::DedupServiceClient;
use shangji_contracts::dedup::{
    CheckDuplicateRequest, CheckDuplicateResponse, GetMatchThresholdsRequest,
    GetMatchThresholdsResponse, MatchDecision, MatchThresholds, UpsertMatchThresholdsRequest,
};
use shangji_contracts::events::lead::LeadQualified;
use shangji_platform::ids::{new_event_id, new_id};
use shangji_testkit::{NatsServer, Postgres};
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

const WAIT: Duration = Duration::from_secs(15);

/// The customer everyone is compared with: a mobile, an e-mail and a company.
fn known() -> Lead {
    Lead {
        company: "北京华为科技有限公司".into(),
        ..lead("王伟", "+86 138-0013-8000", "wang.wei@huawei.com")
    }
}

/// The same person written another way, with none of the exact keys: traditional
/// characters, another spelling of the company, a second mobile.
fn variant() -> Lead {
    Lead {
        company: "華為科技".into(),
        ..lead("王偉", "13911112222", "")
    }
}

fn set(same_min: f64, possible_min: f64, key: &str) -> UpsertMatchThresholdsRequest {
    UpsertMatchThresholdsRequest {
        thresholds: Some(MatchThresholds {
            same_min,
            possible_min,
        }),
        reset_to_defaults: false,
        idempotency_key: key.into(),
    }
}

struct Harness {
    client: DedupServiceClient<Channel>,
}

impl Harness {
    async fn upsert(
        &mut self,
        request: UpsertMatchThresholdsRequest,
    ) -> GetMatchThresholdsResponse {
        self.client
            .upsert_match_thresholds(as_tenant(TENANT, request))
            .await
            .expect("thresholds accepted")
            .into_inner()
            .current
            .expect("current thresholds")
    }

    async fn get(&mut self, tenant: &str) -> GetMatchThresholdsResponse {
        self.client
            .get_match_thresholds(as_tenant(tenant, GetMatchThresholdsRequest {}))
            .await
            .unwrap()
            .into_inner()
    }

    async fn check(&mut self, lead: Lead) -> CheckDuplicateResponse {
        self.client
            .check_duplicate(as_tenant(
                TENANT,
                CheckDuplicateRequest {
                    lead: Some(lead),
                    limit: 0,
                },
            ))
            .await
            .unwrap()
            .into_inner()
    }

    /// The fields an InvalidArgument names.
    async fn refused(&mut self, request: UpsertMatchThresholdsRequest) -> Vec<String> {
        let err = self
            .client
            .upsert_match_thresholds(as_tenant(TENANT, request))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        let details = err.get_error_details();
        details
            .bad_request()
            .expect("field violations")
            .field_violations
            .iter()
            .map(|v| {
                assert!(!v.description.is_empty());
                v.field.clone()
            })
            .collect()
    }
}

async fn thresholds_over_grpc(database_url: Option<String>) {
    let nats = NatsServer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let dedup = common::start(common::settings(&nats.url(), data.path(), database_url)).await;
    let nats_client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(nats_client.clone());
    let mut qualified = QualifiedFeed::subscribe(&nats_client).await;
    let mut h = Harness {
        client: common::client(&dedup).await,
    };
    let mut qualify = async |lead: Lead| -> LeadQualified {
        let lead_id = new_id("lead");
        publish(
            &js,
            TENANT,
            &lead_id,
            &received(&lead_id, lead),
            &new_event_id(),
        )
        .await;
        let (_, event) = qualified.next(WAIT).await;
        assert_eq!(event.lead_id, lead_id);
        event
    };

    // Until the tenant sets its own, the service's defaults are in force.
    let defaults = h.get(TENANT).await;
    assert!(defaults.defaults);
    assert_eq!(defaults.thresholds, defaults.service_defaults);
    assert_eq!(
        defaults.thresholds,
        Some(MatchThresholds {
            same_min: 0.9,
            possible_min: 0.5
        })
    );
    assert_eq!(defaults.updated_at, None);

    // The first lead makes a customer and its account; the event says so, and which
    // rules scored it.
    let first = qualify(known()).await;
    assert!(first.new_customer);
    assert!(first.account_id.starts_with("acc_"), "{}", first.account_id);
    assert!(
        !first.account_match_only,
        "the account is new with this lead"
    );
    assert_eq!(first.score_model, "rules");
    assert_eq!(first.scoring_rules_version, 1);

    // Almost everything compared counts as possible: the variant's score shows.
    let low = h.upsert(set(1.0, 0.001, "low-possible")).await;
    assert!(!low.defaults);
    assert!(low.updated_at.is_some());
    assert_eq!(low.thresholds.unwrap().possible_min, 0.001);
    let checked = h.check(variant()).await;
    assert_eq!(checked.matches.len(), 1, "{checked:?}");
    let found = &checked.matches[0];
    assert_eq!(found.customer_id, first.customer_id);
    assert_eq!(found.decision, MatchDecision::Possible as i32);
    let score = found.score;
    assert!(score > 0.001 && score < 1.0, "score {score}");

    // A retry with the same key answers the same and changes nothing; the same key
    // for another request is refused.
    assert_eq!(h.upsert(set(1.0, 0.001, "low-possible")).await, low);
    assert_eq!(
        h.refused(set(0.95, 0.001, "low-possible")).await,
        ["idempotency_key"]
    );

    // Lowering `same` to the variant's score attaches it automatically.
    h.upsert(set(score, score / 2.0, "lower-same")).await;
    let checked = h.check(variant()).await;
    assert_eq!(checked.matches[0].customer_id, first.customer_id);
    assert_eq!(checked.matches[0].decision, MatchDecision::Same as i32);

    // Raising `possible` above it makes the two different: no match, though compared.
    let above = (score + 0.01).min(1.0);
    h.upsert(set(1.0, above, "high-possible")).await;
    let checked = h.check(variant()).await;
    assert!(checked.matches.is_empty(), "{checked:?}");
    assert!(checked.candidates_examined >= 1);
    assert_eq!(
        checked.account.as_ref().map(|a| a.account_id.as_str()),
        Some(first.account_id.as_str())
    );

    // The consumer follows the same thresholds: the variant becomes a new contact at
    // the known account (an account-level match only) ...
    let apart = qualify(variant()).await;
    assert!(apart.new_customer);
    assert_ne!(apart.customer_id, first.customer_id);
    assert_eq!(apart.account_id, first.account_id);
    assert!(apart.account_match_only);
    assert_eq!(apart.score_model, "rules");
    assert_eq!(apart.scoring_rules_version, 1);

    // ... and, with `same` lowered, the next such lead is attached to a known customer.
    h.upsert(set(score, score / 2.0, "lower-same-again")).await;
    let attached = qualify(variant()).await;
    assert!(!attached.new_customer, "{:?}", attached.match_reasons);
    assert!(
        [&first.customer_id, &apart.customer_id].contains(&&attached.customer_id),
        "{attached:?}"
    );
    assert!(!attached.account_match_only);
    assert_eq!(attached.account_id, first.account_id);

    // Bad values are refused, each field named; nothing changes.
    let before = h.get(TENANT).await;
    assert_eq!(h.refused(set(1.5, 0.5, "")).await, ["thresholds.same_min"]);
    assert_eq!(
        h.refused(set(0.9, 0.0, "")).await,
        ["thresholds.possible_min"]
    );
    assert_eq!(
        h.refused(set(-0.1, 2.0, "")).await,
        ["thresholds.same_min", "thresholds.possible_min"]
    );
    assert_eq!(
        h.refused(set(0.6, 0.8, "")).await,
        ["thresholds.possible_min"]
    );
    assert_eq!(
        h.refused(UpsertMatchThresholdsRequest::default()).await,
        ["thresholds"]
    );
    assert_eq!(
        h.refused(UpsertMatchThresholdsRequest {
            reset_to_defaults: true,
            ..set(0.9, 0.5, "")
        })
        .await,
        ["thresholds"]
    );
    assert_eq!(h.get(TENANT).await, before);

    // Another tenant never sees these thresholds.
    assert!(h.get("globex").await.defaults);

    // Reset: the service's defaults apply again.
    let reset = h
        .upsert(UpsertMatchThresholdsRequest {
            reset_to_defaults: true,
            idempotency_key: "reset".into(),
            ..UpsertMatchThresholdsRequest::default()
        })
        .await;
    assert!(reset.defaults);
    assert_eq!(reset.thresholds, defaults.thresholds);
    assert_eq!(reset.updated_at, None);
    assert_eq!(h.get(TENANT).await, reset);

    dedup.stop().await.unwrap();
}

#[tokio::test]
async fn thresholds_change_decisions_on_sqlite() {
    thresholds_over_grpc(None).await;
}

#[tokio::test]
async fn thresholds_change_decisions_on_postgres() {
    let postgres = Postgres::start().await.unwrap();
    thresholds_over_grpc(Some(
        postgres.create_database("dedup_thresholds").await.unwrap(),
    ))
    .await;
}
