//! What travels with an event: who caused it and which journey it belongs to.

use shangji_contracts::events::{Envelope, Event};

use crate::bus::HandlerError;
use crate::grpc::RequestContext;

/// Tenant, user and causality for the events a piece of work produces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventContext {
    pub tenant_id: String,
    pub user_id: String,
    /// The event or request that caused the new event.
    pub causation_id: String,
    /// The journey (the lead id) the event belongs to.
    pub correlation_id: String,
}

impl EventContext {
    /// Events caused directly by an RPC.
    pub fn from_request(ctx: &RequestContext, correlation_id: impl Into<String>) -> EventContext {
        let correlation_id = correlation_id.into();
        EventContext {
            tenant_id: ctx.tenant_id.clone(),
            user_id: ctx.user_id.clone(),
            causation_id: correlation_id.clone(),
            correlation_id,
        }
    }
}

/// An event delivered to a consumer.
#[derive(Clone, Debug)]
pub struct IncomingEvent {
    pub envelope: Envelope,
    pub subject: String,
    /// How many times JetStream has delivered this message (1 the first time).
    pub delivered: i64,
    pub stream_sequence: u64,
    /// The consumer span of this delivery (a child of the publisher's trace). A handler
    /// that works on a whole batch instruments each event's part with it.
    pub span: tracing::Span,
}

impl IncomingEvent {
    pub fn event_type(&self) -> &str {
        &self.envelope.event_type
    }

    pub fn event_id(&self) -> &str {
        &self.envelope.event_id
    }

    pub fn tenant_id(&self) -> &str {
        &self.envelope.tenant_id
    }

    pub fn is<E: Event>(&self) -> bool {
        self.envelope.event_type == E::TYPE
    }

    /// The payload as `E`. A payload that does not decode can never succeed, so it is
    /// rejected (dead-lettered) rather than retried.
    pub fn decode<E: Event>(&self) -> Result<E, HandlerError> {
        if !self.is::<E>() {
            return Err(HandlerError::Reject(anyhow::anyhow!(
                "expected a {} event, got {}",
                E::TYPE,
                self.envelope.event_type
            )));
        }
        E::decode(self.envelope.payload.as_slice()).map_err(|e| {
            HandlerError::Reject(anyhow::Error::new(e).context(format!("decoding {}", E::TYPE)))
        })
    }

    /// When the event happened, in UTC milliseconds.
    pub fn occurred_at_millis(&self) -> i64 {
        self.envelope
            .occurred_at
            .as_ref()
            .map(shangji_contracts::time::to_millis)
            .unwrap_or_else(shangji_contracts::time::now_millis)
    }

    /// Context for the events this event causes: same tenant, user and journey.
    pub fn follow_on(&self) -> EventContext {
        EventContext {
            tenant_id: self.envelope.tenant_id.clone(),
            user_id: self.envelope.user_id.clone(),
            causation_id: self.envelope.event_id.clone(),
            correlation_id: self.envelope.correlation_id.clone(),
        }
    }
}
