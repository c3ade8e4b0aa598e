//! The answer core, pure (no I/O, no runtime): the vocabulary, the indexed table, the naming
//! scheme, keyword search and its "did you mean" (`suggest`), the zone and its serial, the records answering one question, the
//! zone's contents in walk order, and its presentation forms.

pub mod answer;
pub(crate) mod catalog;
pub(crate) mod contents;
pub(crate) mod fingerprint;
pub mod model;
pub(crate) mod names;
pub(crate) mod owner_name;
pub(crate) mod packed;
pub(crate) mod port_index;
pub mod present;
pub(crate) mod search;
pub mod serial;
pub(crate) mod suggest;
pub mod table;
pub mod txt;
pub mod zone;
