//! The answer core, pure (no I/O, no runtime): the vocabulary, the indexed table, the naming
//! scheme, keyword search, the records answering one question, and the zone's presentation
//! forms.

pub mod answer;
pub(crate) mod contents;
pub mod model;
pub(crate) mod names;
pub mod present;
pub(crate) mod search;
pub mod serial;
pub mod table;
pub mod txt;
