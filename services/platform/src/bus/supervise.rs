//! Keeps a consumer running until shutdown.
//!
//! A consumer's loop ends early when JetStream is briefly unreachable as it starts, when
//! its durable consumer is deleted under it (the message stream ends), or on a bug. Left
//! alone, the service would stay up and healthy while nothing is consumed; so the loop is
//! started again, after a pause that doubles up to [`MAX_PAUSE`] while it keeps failing.
//! Nothing is lost meanwhile: unacknowledged messages wait in the stream.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::consumer::{ConsumerSpec, Handler, run_consumer};
use crate::config::BusSettings;
use crate::db::Db;

/// The first pause before a restart.
const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between restarts.
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// A loop that ran this long before ending counts as healthy: the next pause starts over.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs the consumer, starting it again whenever it ends or panics before `shutdown`.
pub async fn supervise_consumer<H: Handler>(
    db: Db,
    jetstream: async_nats::jetstream::Context,
    spec: ConsumerSpec,
    handler: Arc<H>,
    settings: BusSettings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut pause = FIRST_PAUSE;
    loop {
        let started = Instant::now();
        // A task of its own, so that a panic ends this run, not the supervisor.
        let run = tokio::spawn(run_consumer(
            db.clone(),
            jetstream.clone(),
            spec.clone(),
            handler.clone(),
            settings.clone(),
            shutdown.clone(),
        ));
        let why = match run.await {
            Ok(Ok(())) if shutdown.is_cancelled() => return Ok(()),
            Ok(Ok(())) => "it returned".to_owned(),
            Ok(Err(err)) => format!("{err:#}"),
            Err(err) => format!("it panicked: {err}"),
        };
        if shutdown.is_cancelled() {
            return Ok(());
        }
        if started.elapsed() >= HEALTHY_RUN {
            pause = FIRST_PAUSE;
        }
        tracing::error!(consumer = %spec.durable, error = %why, pause_ms = pause.as_millis() as u64, "consumer stopped; starting it again");
        metrics::counter!("shangji_consumer_restarts_total", "consumer" => spec.durable.clone())
            .increment(1);
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
