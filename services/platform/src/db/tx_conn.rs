//! The connection under a [`Tx`](super::Tx).
//!
//! On PostgreSQL it is sqlx's own transaction. On SQLite it is the writer connection with
//! `BEGIN` and `COMMIT` sent as plain statements: every statement is a round trip to the
//! connection's thread (a hand-off costs several times the insert it carries, see
//! `examples/round_trips.rs`), and a plain `COMMIT` can ride in the same round trip as the
//! transaction's last writes, which sqlx's transaction cannot offer (it tracks the
//! transaction in its worker and commits with a command of its own).
//!
//! The price is doing sqlx's bookkeeping here: a transaction dropped while still open
//! (an error returned with `?`, a cancelled future) is rolled back before its connection
//! serves anyone else, and a connection whose state is unknown is closed, not reused.

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};

pub(crate) enum TxConn {
    /// sqlx's transaction (PostgreSQL).
    Managed(Transaction<'static, Any>),
    /// A connection inside a `BEGIN` of ours (SQLite).
    Plain(PlainTx),
}

/// A connection inside a `BEGIN` of ours.
pub(crate) struct PlainTx {
    /// `None` only while dropping.
    conn: Option<PoolConnection<Any>>,
    /// Until a `COMMIT` or `ROLLBACK` of ours has run.
    open: bool,
}

impl TxConn {
    pub(crate) async fn begin_managed(pool: &AnyPool) -> Result<TxConn, sqlx::Error> {
        Ok(TxConn::Managed(pool.begin().await?))
    }

    pub(crate) async fn begin_plain(pool: &AnyPool) -> Result<TxConn, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        sqlx::query("BEGIN").execute(&mut *conn).await?;
        Ok(TxConn::Plain(PlainTx {
            conn: Some(conn),
            open: true,
        }))
    }

    /// True when `COMMIT` may be sent as a statement of the caller's, after which
    /// [`Self::committed`] must be called.
    pub(crate) fn commits_as_statement(&self) -> bool {
        matches!(self, TxConn::Plain(_))
    }

    /// Records that a `COMMIT` sent as a statement has run.
    pub(crate) fn committed(&mut self) {
        if let TxConn::Plain(plain) = self {
            plain.open = false;
        }
    }

    /// Commits, unless a `COMMIT` statement already did.
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            TxConn::Managed(tx) => tx.commit().await,
            TxConn::Plain(mut plain) => plain.finish("COMMIT").await,
        }
    }

    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            TxConn::Managed(tx) => tx.rollback().await,
            TxConn::Plain(mut plain) => plain.finish("ROLLBACK").await,
        }
    }

    /// After a failed statement: rolls back what is left of the transaction now, so the
    /// connection goes back to the pool clean. The caller reports the failure; should
    /// this rollback fail too, dropping the transaction takes care of the connection.
    pub(crate) async fn abandon(self) {
        match self {
            // sqlx rolls its own back when dropped.
            TxConn::Managed(tx) => drop(tx),
            TxConn::Plain(mut plain) => {
                let _ = plain.finish("ROLLBACK").await;
            }
        }
    }
}

impl PlainTx {
    async fn finish(&mut self, statement: &'static str) -> Result<(), sqlx::Error> {
        if let Some(conn) = self.conn.as_mut()
            && self.open
        {
            sqlx::query(statement).execute(&mut **conn).await?;
            self.open = false;
        }
        Ok(())
    }
}

impl Drop for PlainTx {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        // Still open: roll it back before the pool hands the connection out again (the
        // pool only gets it back when the task is done). Should that be impossible or
        // fail, closing the connection rolls the transaction back in SQLite itself.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Err(err) = sqlx::query("ROLLBACK").execute(&mut *conn).await {
                        tracing::warn!(error = %err, "cannot roll back an abandoned transaction; closing its connection");
                        conn.close_on_drop();
                    }
                });
            }
            Err(_) => conn.close_on_drop(),
        }
    }
}

impl std::ops::Deref for TxConn {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        match self {
            TxConn::Managed(tx) => tx,
            TxConn::Plain(plain) => plain.conn.as_deref().expect("present until dropped"),
        }
    }
}

impl std::ops::DerefMut for TxConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            TxConn::Managed(tx) => tx,
            TxConn::Plain(plain) => plain.conn.as_deref_mut().expect("present until dropped"),
        }
    }
}
