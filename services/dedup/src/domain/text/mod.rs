//! Text as people write names and companies, folded so that variants meet: one script
//! (traditional to simplified), one width, one case, and pinyin spellings so that hanzi
//! and Latin spellings of one name compare.
//!
//! Everything here is total: any input gives a (possibly empty) result, never a panic.

pub mod company;
pub mod person;
pub mod script;
pub mod spelling;
mod tables;

pub use company::CompanyName;
pub use person::PersonName;
pub use script::fold;
