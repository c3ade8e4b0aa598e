//! portsd: an authoritative DNS server that answers what TCP, UDP, SCTP and DCCP port numbers
//! are used for.
//!
//! The layout, from pure to effectful:
//! - [`model`]: protocols, the status legend, one use of a port.
//! - [`txt`]: the TXT answer format and its character-string encoding.
//! - [`table`]: the merged, indexed port table (immutable; swapped whole on reload).
//! - [`acl`]: the `--allow`/`--deny` client network lists and which one decides.
//! - [`rrl`]: response rate limiting per client prefix (answer, slip as TC=1, or drop).
//! - [`fuzzing`]: raw-bytes entry points for the cargo-fuzz targets in `fuzz/`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod acl;
pub mod answer;
pub mod config;
pub mod fuzzing;
pub mod handler;
pub mod model;
pub mod names;
pub mod present;
pub mod rrl;
pub mod server;
pub mod sources;
pub mod table;
pub mod txt;
pub mod wire;
