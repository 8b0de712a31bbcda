//! Handlers whose events share, across one consumer batch, what they read once per
//! batch: a tenant's settings, each team's pipeline, an org chart.

use std::future::Future;

use tracing::Instrument as _;

use crate::bus::IncomingEvent;
use crate::bus::consumer::{Handler, HandlerError};
use crate::db::Tx;

/// A handler that applies each event with state shared by the batch it came in.
///
/// A batch is one transaction, so what its state holds cannot change underneath it as
/// long as no event of the batch changes it (a handler whose events may, such as a
/// merge moving customers, starts afresh there). An event retried alone gets new state.
/// Every `BatchHandler` is a [`Handler`].
pub trait BatchHandler: Send + Sync + 'static {
    /// What the events of one batch share.
    type Batch: Send;

    /// Empty state for a new batch.
    fn new_batch(&self) -> Self::Batch;

    /// Runs before the batch's first event is applied, in its transaction, with all of
    /// its events: reads up front, in one statement for the batch, what each event would
    /// otherwise read first on its own (whether its lead was handled before, say). The
    /// default reads nothing.
    fn prepare<'a>(
        &'a self,
        tx: &'a mut Tx,
        events: &'a [&'a IncomingEvent],
        batch: &'a mut Self::Batch,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a {
        let _ = (tx, events, batch);
        async { Ok(()) }
    }

    /// Applies one event, reading what it needs through `batch` (and filling it in).
    fn apply<'a>(
        &'a self,
        tx: &'a mut Tx,
        event: &'a IncomingEvent,
        batch: &'a mut Self::Batch,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a;

    /// Runs after the batch's last event was applied, in its transaction: writes what
    /// the events left in `batch` to be written together (rows no later event of the
    /// batch reads back, one multi-row statement for the batch instead of one per
    /// event). An error here fails the batch like an event's. The default writes nothing.
    fn finish<'a>(
        &'a self,
        tx: &'a mut Tx,
        batch: &'a mut Self::Batch,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send + 'a {
        let _ = (tx, batch);
        async { Ok(()) }
    }
}

impl<T: BatchHandler> Handler for T {
    async fn handle(&self, tx: &mut Tx, event: &IncomingEvent) -> Result<(), HandlerError> {
        let mut batch = self.new_batch();
        self.prepare(tx, &[event], &mut batch).await?;
        self.apply(tx, event, &mut batch).await?;
        self.finish(tx, &mut batch).await
    }

    async fn handle_batch(
        &self,
        tx: &mut Tx,
        events: &[&IncomingEvent],
    ) -> Result<(), HandlerError> {
        let mut batch = self.new_batch();
        self.prepare(tx, events, &mut batch).await?;
        for event in events {
            self.apply(tx, event, &mut batch)
                .instrument(event.span.clone())
                .await?;
        }
        self.finish(tx, &mut batch).await
    }
}
