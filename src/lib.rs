//! portsd: an authoritative DNS server that answers what TCP, UDP, SCTP and DCCP port numbers
//! are used for.
//!
//! The layout, from pure to effectful:
//! - [`model`]: protocols, the status legend, one use of a port.
//! - [`txt`]: the TXT answer format and its character-string encoding.
//! - [`table`]: the merged, indexed port table (immutable; swapped whole on reload).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod answer;
pub mod batch;
pub mod config;
pub mod handler;
pub mod model;
pub mod names;
pub mod present;
pub mod server;
pub mod sources;
pub mod table;
pub mod txt;
pub mod wire;
