//! The `shangji.analytics.v1.AnalyticsService` gRPC service.

mod funnel;

pub use funnel::AnalyticsApi;
