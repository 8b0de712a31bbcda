//! Signals: the first SIGTERM or Ctrl-C asks for a graceful drain, the second exits now.
//!
//! The handlers are installed before the service starts ([`Signals::listen`]): a SIGTERM
//! that arrives while it opens its database or connects to NATS is then seen (the start
//! is abandoned) instead of killing the process by the signal's default action, and one
//! that arrives once it serves, before its drain is wired, still drains it.

use tokio_util::sync::CancellationToken;

/// Stop signals, listened for from the moment this is made.
pub struct Signals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl Signals {
    /// Installs the handlers for SIGTERM and SIGINT (Ctrl-C). Inside a tokio runtime.
    pub fn listen() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// The next stop signal (including one that arrived before this was called).
    pub async fn next(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => {}
                _ = self.interrupt.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Cancels `token` on the first signal; exits the process with 130 on the second.
pub fn on_signals(mut signals: Signals, token: CancellationToken) {
    tokio::spawn(async move {
        signals.next().await;
        tracing::info!("shutdown requested: draining (signal again to exit at once)");
        token.cancel();
        signals.next().await;
        tracing::warn!("second signal: exiting without draining");
        std::process::exit(130);
    });
}
