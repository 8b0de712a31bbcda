//! Prometheus metrics over HTTP. The `metrics` macros used across the platform are
//! no-ops until [`install`] runs (once per process, from `app::main`).

use std::net::SocketAddr;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

/// Latency buckets in seconds, from sub-millisecond RPCs to slow batch work.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

pub fn install(addr: SocketAddr) -> anyhow::Result<()> {
    PrometheusBuilder::new()
        .with_http_listener(addr)
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .install()
        .map_err(|e| anyhow::anyhow!("cannot serve metrics on {addr}: {e}"))?;
    describe();
    Ok(())
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "shangji_grpc_requests_total",
        "gRPC requests by method and status code"
    );
    describe_histogram!(
        "shangji_grpc_request_duration_seconds",
        "gRPC request latency"
    );
    describe_counter!(
        "shangji_events_published_total",
        "Events the outbox relay published"
    );
    describe_gauge!(
        "shangji_outbox_backlog",
        "Events written but not yet published"
    );
    describe_counter!(
        "shangji_events_consumed_total",
        "Events consumed, by consumer and outcome"
    );
    describe_counter!(
        "shangji_events_redelivered_total",
        "Deliveries that were not the first"
    );
    describe_counter!(
        "shangji_dead_letters_total",
        "Messages given up on and sent to the dead-letter subject"
    );
    describe_histogram!(
        "shangji_consume_batch_seconds",
        "Time to handle one batch of events"
    );
    describe_gauge!(
        "shangji_consumer_pending",
        "Messages in the stream not yet delivered to the consumer (its lag)"
    );
    describe_gauge!(
        "shangji_consumer_ack_pending",
        "Messages delivered to the consumer and not yet acknowledged"
    );
}
