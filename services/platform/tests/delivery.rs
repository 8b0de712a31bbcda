//! The delivery guarantees, against a real nats-server and real databases:
//! - an event written to the outbox is published once, even if the relay publishes it
//!   again after a crash (JetStream drops the duplicate Nats-Msg-Id);
//! - a redelivered event changes nothing (inbox);
//! - a message that can never succeed, or keeps failing, lands on the dead-letter
//!   subject with its error, and the consumer moves on.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use prost::Message as _;
use shangji_contracts::events::lead::{LeadPooled, LeadReceived};
use shangji_contracts::events::{self, Domain, Envelope, Event};
use shangji_platform::bus::{
    self, Bus, ConsumerSpec, EventContext, Handler, HandlerError, IncomingEvent,
};
use shangji_platform::config::Settings;
use shangji_platform::db::{Migration, Migrations};
use shangji_platform::{Db, Tx};
use shangji_testkit::{NatsServer, Postgres, poll_until};
use tokio_util::sync::CancellationToken;

static TEST_TABLES: Migrations = Migrations {
    component: "delivery_test",
    list: &[Migration {
        version: 1,
        name: "applied events",
        sqlite: "CREATE TABLE applied (event_id TEXT NOT NULL, lead_id TEXT NOT NULL)",
        postgres: "CREATE TABLE applied (event_id TEXT NOT NULL, lead_id TEXT NOT NULL)",
    }],
};

/// Records every LeadReceived it applies; rejects LeadPooled; fails "retry-me" leads.
struct Recorder;

impl Handler for Recorder {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        if event.is::<LeadPooled>() {
            return Err(HandlerError::Reject(anyhow::anyhow!(
                "pooled leads are not for me"
            )));
        }
        let e: LeadReceived = event.decode()?;
        if e.lead_id == "retry-me" {
            return Err(HandlerError::Retry(anyhow::anyhow!("still not ready")));
        }
        if e.lead_id == "panic-me" {
            panic!("cannot handle {}", e.lead_id);
        }
        sqlx::query("INSERT INTO applied (event_id, lead_id) VALUES ($1, $2)")
            .bind(event.event_id())
            .bind(&e.lead_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

struct Fixture {
    _nats: NatsServer,
    _dir: tempfile::TempDir,
    db: Db,
    bus: Bus,
    settings: Settings,
}

async fn fixture(db_url: Option<String>) -> Fixture {
    let nats = NatsServer::start().await.expect("nats-server starts");
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::defaults("delivery", 0, 0);
    settings.nats_url = nats.url();
    settings.data_dir = dir.path().to_owned();
    settings.database_url = db_url;
    settings.bus.max_deliver = 2;
    let db = Db::connect(&settings.effective_database_url(), "delivery")
        .await
        .unwrap();
    db.migrate(&TEST_TABLES).await.unwrap();
    let bus = Bus::connect(&settings).await.unwrap();
    bus.ensure_streams(&settings).await.unwrap();
    Fixture {
        _nats: nats,
        _dir: dir,
        db,
        bus,
        settings,
    }
}

fn ctx() -> EventContext {
    EventContext {
        tenant_id: "acme".into(),
        user_id: "tester".into(),
        causation_id: "req-1".into(),
        correlation_id: "lead-1".into(),
    }
}

async fn stream_messages(bus: &Bus, domain: Domain) -> u64 {
    let mut stream = bus
        .jetstream
        .get_stream(domain.stream_name())
        .await
        .unwrap();
    stream.info().await.unwrap().state.messages
}

async fn outbox_is_published_once_even_when_republished(f: &Fixture) {
    let mut tx = f.db.begin().await.unwrap();
    let event = LeadReceived {
        lead_id: "lead-1".into(),
        ..Default::default()
    };
    let event_id = bus::enqueue(&mut tx, &ctx(), &event).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(bus::outbox::backlog(&f.db).await.unwrap(), 1);

    let published = bus::outbox::publish_pending(&f.db, &f.bus.jetstream)
        .await
        .unwrap();
    assert_eq!(published, 1);
    assert_eq!(bus::outbox::backlog(&f.db).await.unwrap(), 0);
    assert_eq!(stream_messages(&f.bus, Domain::Lead).await, 1);

    // A crash between publish and delete leaves the row; the next relay round
    // publishes it again with the same Nats-Msg-Id and JetStream drops it.
    let mut tx = f.db.begin().await.unwrap();
    let envelope = Envelope {
        event_id: event_id.clone(),
        event_type: LeadReceived::TYPE.into(),
        tenant_id: "acme".into(),
        payload: event.encode_to_vec(),
        ..Default::default()
    };
    sqlx::query("INSERT INTO outbox (event_id, subject, envelope, headers, created_at) VALUES ($1, $2, $3, '{}', 0)")
        .bind(&event_id)
        .bind(LeadReceived::subject())
        .bind(envelope.encode_to_vec())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    bus::outbox::publish_pending(&f.db, &f.bus.jetstream)
        .await
        .unwrap();
    assert_eq!(
        stream_messages(&f.bus, Domain::Lead).await,
        1,
        "duplicate publish was dropped"
    );

    // The envelope carries the tenant, causality and the producing service.
    let stream = f
        .bus
        .jetstream
        .get_stream(Domain::Lead.stream_name())
        .await
        .unwrap();
    let raw = stream.get_raw_message(1).await.unwrap();
    let got = Envelope::decode(raw.payload.as_ref()).unwrap();
    assert_eq!(got.event_id, event_id);
    assert_eq!(got.tenant_id, "acme");
    assert_eq!(got.user_id, "tester");
    assert_eq!(got.correlation_id, "lead-1");
    assert_eq!(got.producer, "delivery");
    assert_eq!(got.event_type, "lead.received");
}

/// Publishes an envelope straight to JetStream under a chosen message id.
async fn publish(bus: &Bus, envelope: &Envelope, subject: String, msg_id: &str) {
    shangji_testkit::events::publish_envelope(&bus.jetstream, &subject, envelope, msg_id)
        .await
        .unwrap();
}

fn envelope_of<E: Event>(event_id: &str, event: &E) -> Envelope {
    Envelope {
        event_id: event_id.into(),
        event_type: E::TYPE.into(),
        tenant_id: "acme".into(),
        payload: event.encode_to_vec(),
        ..Default::default()
    }
}

async fn applied(db: &Db) -> Vec<String> {
    sqlx::query_scalar("SELECT lead_id FROM applied ORDER BY lead_id")
        .fetch_all(db.reader())
        .await
        .unwrap()
}

async fn redelivery_is_a_no_op_and_poison_is_dead_lettered(f: &Fixture) {
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn(bus::run_consumer(
        f.db.clone(),
        f.bus.jetstream.clone(),
        ConsumerSpec::new("recorder", Domain::Lead, &["received", "pooled"]),
        Arc::new(Recorder),
        f.settings.bus.clone(),
        shutdown.clone(),
    ));
    let mut dead_letters = f
        .bus
        .client
        .subscribe(events::dead_letter_subject("recorder"))
        .await
        .unwrap();

    let twice = envelope_of(
        "evt-twice",
        &LeadReceived {
            lead_id: "lead-2".into(),
            ..Default::default()
        },
    );
    publish(&f.bus, &twice, LeadReceived::subject(), "m-1").await;
    // The same event again under another message id: JetStream cannot drop it, so
    // only the consumer's inbox stands between it and a second effect.
    publish(&f.bus, &twice, LeadReceived::subject(), "m-2").await;
    let poison = envelope_of(
        "evt-poison",
        &LeadPooled {
            lead_id: "lead-3".into(),
            ..Default::default()
        },
    );
    publish(&f.bus, &poison, LeadPooled::subject(), "m-3").await;
    let stubborn = envelope_of(
        "evt-stubborn",
        &LeadReceived {
            lead_id: "retry-me".into(),
            ..Default::default()
        },
    );
    publish(&f.bus, &stubborn, LeadReceived::subject(), "m-4").await;
    // A handler bug: the event that makes it panic is dead-lettered, and the consumer
    // lives on. Its id has a line break, which no NATS header may carry.
    let panicky = envelope_of(
        "evt-\npanic",
        &LeadReceived {
            lead_id: "panic-me".into(),
            ..Default::default()
        },
    );
    publish(&f.bus, &panicky, LeadReceived::subject(), "m-panic").await;
    let after = envelope_of(
        "evt-after",
        &LeadReceived {
            lead_id: "lead-4".into(),
            ..Default::default()
        },
    );
    publish(&f.bus, &after, LeadReceived::subject(), "m-5").await;

    // The three dead letters arrive: the rejected and the panicking one at once, the
    // stubborn one after max_deliver (2) attempts.
    let mut reasons = Vec::new();
    for _ in 0..3 {
        let msg = tokio::time::timeout(Duration::from_secs(30), dead_letters.next())
            .await
            .expect("dead letter arrives")
            .unwrap();
        let headers = msg.headers.clone().unwrap();
        reasons.push((
            headers.get("Shangji-Event-Id").unwrap().to_string(),
            headers.get("Shangji-Error").unwrap().to_string(),
        ));
        assert_eq!(
            Envelope::decode(msg.payload.as_ref()).unwrap().tenant_id,
            "acme"
        );
    }
    reasons.sort();
    assert_eq!(reasons[0].0, "evt- panic");
    assert!(
        reasons[0]
            .1
            .contains("the handler panicked: cannot handle panic-me"),
        "{reasons:?}"
    );
    assert_eq!(reasons[1].0, "evt-poison");
    assert!(
        reasons[1].1.contains("pooled leads are not for me"),
        "{reasons:?}"
    );
    assert_eq!(reasons[2].0, "evt-stubborn");
    assert!(reasons[2].1.contains("still not ready"), "{reasons:?}");

    poll_until(
        "the good events applied",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async {
            let got = applied(&f.db).await;
            if got.len() == 3 {
                Ok(())
            } else {
                Err(format!("applied so far: {got:?}"))
            }
        },
    )
    .await
    .unwrap();
    // lead-1 is the event the outbox test published; lead-2 arrived twice.
    assert_eq!(
        applied(&f.db).await,
        ["lead-1", "lead-2", "lead-4"],
        "lead-2 applied once"
    );

    // Everything was settled: nothing is left pending or unacknowledged.
    let stream = f
        .bus
        .jetstream
        .get_stream(Domain::Lead.stream_name())
        .await
        .unwrap();
    let c: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer("recorder").await.unwrap();
    poll_until(
        "all messages settled",
        Duration::from_secs(20),
        Duration::from_millis(50),
        || {
            let mut c = c.clone();
            async move {
                let info = c.info().await.map_err(|e| e.to_string())?;
                if info.num_pending == 0 && info.num_ack_pending == 0 {
                    Ok(())
                } else {
                    Err(format!(
                        "pending {} / unacked {}",
                        info.num_pending, info.num_ack_pending
                    ))
                }
            }
        },
    )
    .await
    .unwrap();

    shutdown.cancel();
    consumer.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn delivery_guarantees_on_sqlite() {
    let f = fixture(None).await;
    outbox_is_published_once_even_when_republished(&f).await;
    redelivery_is_a_no_op_and_poison_is_dead_lettered(&f).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delivery_guarantees_on_postgres() {
    let pg = Postgres::start().await.expect("PostgreSQL starts");
    let url = pg.create_database("delivery").await.unwrap();
    let f = fixture(Some(url)).await;
    outbox_is_published_once_even_when_republished(&f).await;
    redelivery_is_a_no_op_and_poison_is_dead_lettered(&f).await;
}

/// A release that consumes more events than the one that created the durable consumer
/// widens its filter on start, so the new events are not silently skipped.
#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_filter_follows_the_release() {
    let f = fixture(None).await;
    let run = |events: &'static [&'static str]| {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(bus::run_consumer(
            f.db.clone(),
            f.bus.jetstream.clone(),
            ConsumerSpec::new("evolving", Domain::Lead, events),
            Arc::new(Recorder),
            f.settings.bus.clone(),
            shutdown.clone(),
        ));
        (shutdown, task)
    };
    let filter = || async {
        let stream = f
            .bus
            .jetstream
            .get_stream(Domain::Lead.stream_name())
            .await
            .unwrap();
        shangji_testkit::poll_until(
            "the consumer to exist",
            std::time::Duration::from_secs(10),
            std::time::Duration::from_millis(20),
            || async {
                stream
                    .consumer_info("evolving")
                    .await
                    .map_err(|e| e.to_string())
            },
        )
        .await
        .unwrap()
        .config
        .filter_subjects
    };

    let (shutdown, task) = run(&["received"]);
    assert_eq!(filter().await, vec![LeadReceived::subject()]);
    shutdown.cancel();
    task.await.unwrap().unwrap();

    let (shutdown, task) = run(&["received", "pooled"]);
    shangji_testkit::poll_until(
        "the filter to be widened",
        std::time::Duration::from_secs(10),
        std::time::Duration::from_millis(20),
        || async {
            let mut subjects = filter().await;
            subjects.sort();
            if subjects == vec!["shangji.lead.v1.pooled", "shangji.lead.v1.received"] {
                Ok(())
            } else {
                Err(format!("{subjects:?}"))
            }
        },
    )
    .await
    .unwrap();
    shutdown.cancel();
    task.await.unwrap().unwrap();
}

/// A consumer whose run ends early (here: its stream does not exist yet as it starts) is
/// started again, and consumes once the stream is there.
#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_that_stops_early_is_started_again() {
    let f = fixture(None).await;
    f.bus
        .jetstream
        .delete_stream(Domain::Lead.stream_name())
        .await
        .unwrap();
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn(bus::supervise_consumer(
        f.db.clone(),
        f.bus.jetstream.clone(),
        ConsumerSpec::new("recorder", Domain::Lead, &["received"]),
        Arc::new(Recorder),
        f.settings.bus.clone(),
        shutdown.clone(),
    ));
    // Let the first run fail on the missing stream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!consumer.is_finished(), "the supervisor gave up");
    f.bus.ensure_streams(&f.settings).await.unwrap();
    let event = envelope_of(
        "evt-late",
        &LeadReceived {
            lead_id: "lead-late".into(),
            ..Default::default()
        },
    );
    publish(&f.bus, &event, LeadReceived::subject(), "m-late").await;
    poll_until(
        "the event applied by the restarted consumer",
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            let got = applied(&f.db).await;
            if got == ["lead-late"] {
                Ok(())
            } else {
                Err(format!("applied so far: {got:?}"))
            }
        },
    )
    .await
    .unwrap();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), consumer)
        .await
        .expect("the supervisor stops at shutdown")
        .unwrap()
        .unwrap();
}
