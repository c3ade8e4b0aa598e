//! portsd: an authoritative DNS server that answers what TCP, UDP, SCTP and DCCP port numbers
//! are used for.
//!
//! The layout, from pure to effectful:
//! - [`model`]: protocols, the status legend, one use of a port.
//! - [`txt`]: the TXT answer format and its character-string encoding.
//! - [`table`]: the merged, indexed port table (immutable; swapped whole on reload).
//! - [`sources`]: reading `data/` (built in, or `--data DIR`): parsing the port list, its excerpt,
//!   IANA's CSV and `local.tsv`, reporting problems as `file:line: reason`, merging into entries.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod model;
pub mod sources;
pub mod table;
pub mod txt;
