//! Intake's own settings (shared ones live in `shangji_platform::config`).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct IntakeConfig {
    /// The channel recorded for leads submitted through `SubmitLead`.
    pub grpc_channel_name: String,
    /// Where the HTTP channels (web forms, webhooks) listen; port 0 picks a free port,
    /// an empty value turns them off.
    pub http_addr: String,
    /// Largest form post or webhook body accepted, in bytes (413 past it).
    pub http_max_body_bytes: usize,
    /// Take the client address for rate limits from the last `X-Forwarded-For` entry
    /// (the one the proxy in front added). Only behind exactly one proxy that sets it:
    /// otherwise clients choose their own address.
    pub http_trust_forwarded_for: bool,
    /// Posts per minute per client address for forms that do not set their own limit.
    pub form_rate_limit_per_minute: u32,
    /// Identical posts to one form within this many seconds are one lead (a
    /// double-click), unless the post carries its own `Idempotency-Key`.
    pub form_duplicate_window_secs: u64,
    /// How far a signed webhook's `X-Shangji-Timestamp` may be from now, in seconds.
    pub webhook_max_skew_secs: u64,
    /// Screening: more submissions than this from one client address within
    /// `flood_window_secs` flag the lead as a flood (web forms, where the address is the
    /// visitor's). 0: no limit.
    pub flood_max_per_address: u32,
    /// Screening: more submissions than this for one phone number or one e-mail address
    /// within `flood_window_secs` flag the lead as a flood (every channel but imports).
    /// 0: no limit.
    pub flood_max_per_contact: u32,
    /// The window flood limits apply to, in seconds; 0 turns flood screening off.
    pub flood_window_secs: u64,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        IntakeConfig {
            grpc_channel_name: "grpc".to_owned(),
            http_addr: "127.0.0.1:8051".to_owned(),
            http_max_body_bytes: 256 * 1024,
            http_trust_forwarded_for: false,
            form_rate_limit_per_minute: 10,
            form_duplicate_window_secs: 30,
            webhook_max_skew_secs: 300,
            flood_max_per_address: 30,
            flood_max_per_contact: 10,
            flood_window_secs: 3600,
        }
    }
}

impl IntakeConfig {
    /// The HTTP address, or None when the HTTP channels are off.
    pub fn http_socket_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        let addr = self.http_addr.trim();
        if addr.is_empty() {
            return Ok(None);
        }
        addr.parse().map(Some).map_err(|_| {
            anyhow::anyhow!(
                "configuration error in `http_addr`: `{addr}` must be host:port, e.g. 127.0.0.1:8051 (empty turns the HTTP channels off)"
            )
        })
    }
}

impl shangji_platform::config::ServiceConfig for IntakeConfig {
    fn validate(&self) -> anyhow::Result<()> {
        self.http_socket_addr()?;
        if self.http_max_body_bytes < 1024 {
            anyhow::bail!("configuration error in `http_max_body_bytes`: must be at least 1024");
        }
        if self.form_rate_limit_per_minute == 0 {
            anyhow::bail!(
                "configuration error in `form_rate_limit_per_minute`: must be at least 1"
            );
        }
        if self.webhook_max_skew_secs == 0 {
            anyhow::bail!("configuration error in `webhook_max_skew_secs`: must be at least 1");
        }
        Ok(())
    }
}

impl IntakeConfig {
    /// The screening flood limits these settings describe.
    pub fn flood_limits(&self) -> crate::domain::screening::flood::FloodLimits {
        crate::domain::screening::flood::FloodLimits {
            window_ms: i64::try_from(self.flood_window_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
            per_address: self.flood_max_per_address,
            per_contact: self.flood_max_per_contact,
        }
    }
}
