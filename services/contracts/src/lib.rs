//! The contracts of Shangji: gRPC services and bus events generated from `proto/`,
//! the event catalogue (names, streams, subjects) and small conversions.
//!
//! Subjects are built here and nowhere else (`events::subject`), so a subject string
//! never appears inline in a service.

pub mod events;
pub mod time;

/// Encoded `FileDescriptorSet` of every proto, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/shangji_descriptor.bin"));

/// Generated code, nested exactly like the proto packages so cross-package paths resolve.
#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod shangji {
    pub mod common {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.common.v1.rs"));
        }
    }
    pub mod events {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.events.v1.rs"));
        }
    }
    pub mod lead {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.lead.v1.rs"));
        }
    }
    pub mod opportunity {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.opportunity.v1.rs"));
        }
    }
    pub mod org {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.org.v1.rs"));
        }
    }
    pub mod reminder {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.reminder.v1.rs"));
        }
    }
    pub mod intake {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.intake.v1.rs"));
        }
    }
    pub mod dedup {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.dedup.v1.rs"));
        }
    }
    pub mod assignment {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.assignment.v1.rs"));
        }
    }
    pub mod pipeline {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.pipeline.v1.rs"));
        }
    }
    pub mod reminders {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.reminders.v1.rs"));
        }
    }
    pub mod analytics {
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/shangji.analytics.v1.rs"));
        }
    }
}

pub use shangji::analytics::v1 as analytics;
pub use shangji::assignment::v1 as assignment;
pub use shangji::common::v1 as common;
pub use shangji::dedup::v1 as dedup;
pub use shangji::intake::v1 as intake;
pub use shangji::pipeline::v1 as pipeline;
pub use shangji::reminders::v1 as reminders;
