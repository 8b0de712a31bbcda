//! shangji-intake: captures leads, stores each with its status trail, announces it
//! (`lead.received`), and follows it downstream to answer "where is my lead?".

mod api;
mod app;
mod bus;
mod capture;
mod config;
pub mod domain;
mod http;
mod import;
pub mod store;

pub use app::{SPEC, start, start_with_http_listener};
pub use config::IntakeConfig;
