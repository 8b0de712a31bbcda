//! Events on the bus, for tests: build an envelope and publish it exactly as a producing
//! service's outbox relay would (on the event's subject, `Nats-Msg-Id` = event id), read a
//! stream back, and wait until a consumer has acknowledged up to a sequence.

use std::time::Duration;

use anyhow::Context as _;
use async_nats::jetstream::{self, consumer::pull};
use prost::Message as _;
use shangji_contracts::events::{Domain, Envelope, Event};
use shangji_contracts::time::{from_millis, now_millis};

use crate::poll_until;

/// An envelope for `event` as `producer` would write it for `tenant`: a fresh event id,
/// `correlation_id` as both correlation and causation, user `test`, occurred now.
pub fn envelope<E: Event>(
    tenant: &str,
    correlation_id: &str,
    producer: &str,
    event: &E,
) -> Envelope {
    Envelope {
        event_id: uuid::Uuid::now_v7().to_string(),
        event_type: E::TYPE.to_owned(),
        tenant_id: tenant.to_owned(),
        user_id: "test".to_owned(),
        occurred_at: Some(from_millis(now_millis())),
        causation_id: correlation_id.to_owned(),
        correlation_id: correlation_id.to_owned(),
        producer: producer.to_owned(),
        payload: event.encode_to_vec(),
    }
}

/// Publishes `envelope` on `subject` with `msg_id` as `Nats-Msg-Id` and waits for the
/// JetStream ack; returns the stream sequence. Re-publishing an envelope under a new
/// message id gets it past JetStream's de-duplication, as a relay re-sending after its
/// window would, so consumers see a true redelivery.
pub async fn publish_envelope(
    js: &jetstream::Context,
    subject: &str,
    envelope: &Envelope,
    msg_id: &str,
) -> anyhow::Result<u64> {
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", msg_id);
    let ack = js
        .publish_with_headers(subject.to_owned(), headers, envelope.encode_to_vec().into())
        .await
        .with_context(|| format!("publishing {} on {subject}", envelope.event_type))?
        .await
        .with_context(|| format!("JetStream ack for {} on {subject}", envelope.event_type))?;
    Ok(ack.sequence)
}

/// Publishes an envelope built for `E` on `E`'s subject under its own event id.
pub async fn publish<E: Event>(
    js: &jetstream::Context,
    envelope: &Envelope,
) -> anyhow::Result<u64> {
    publish_envelope(js, &E::subject(), envelope, &envelope.event_id).await
}

/// Every envelope in a stream, in stream order (an empty stream gives an empty list).
pub async fn stream_envelopes(
    js: &jetstream::Context,
    stream_name: &str,
) -> anyhow::Result<Vec<Envelope>> {
    let mut stream = js
        .get_stream(stream_name)
        .await
        .with_context(|| format!("stream {stream_name}"))?;
    let state = stream.info().await?.state.clone();
    let mut envelopes = Vec::new();
    if state.messages == 0 {
        return Ok(envelopes);
    }
    for seq in state.first_sequence..=state.last_sequence {
        let message = match stream.get_raw_message(seq).await {
            Ok(message) => message,
            // A deleted message leaves a gap in the sequence; skip it.
            Err(e) if e.kind() == jetstream::stream::RawMessageErrorKind::NoMessageFound => {
                continue;
            }
            Err(e) => return Err(e).with_context(|| format!("{stream_name} message {seq}")),
        };
        envelopes.push(Envelope::decode(message.payload.as_ref())?);
    }
    Ok(envelopes)
}

/// Waits until the durable consumer `consumer` on `domain`'s stream has acknowledged
/// every message up to stream sequence `seq` (its ack floor reached it).
pub async fn wait_until_acked(
    js: &jetstream::Context,
    domain: Domain,
    consumer: &str,
    seq: u64,
    timeout: Duration,
) -> anyhow::Result<()> {
    poll_until(
        &format!(
            "consumer {consumer} to ack {} up to {seq}",
            domain.stream_name()
        ),
        timeout,
        Duration::from_millis(20),
        || async move {
            let stream = js
                .get_stream(domain.stream_name())
                .await
                .map_err(|e| e.to_string())?;
            let mut durable: jetstream::consumer::Consumer<pull::Config> = stream
                .get_consumer(consumer)
                .await
                .map_err(|e| e.to_string())?;
            let floor = durable
                .info()
                .await
                .map_err(|e| e.to_string())?
                .ack_floor
                .stream_sequence;
            if floor >= seq {
                Ok(())
            } else {
                Err(format!("ack floor {floor} < {seq}"))
            }
        },
    )
    .await
}
