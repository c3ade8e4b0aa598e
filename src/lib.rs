//! portsd: an authoritative DNS server that answers what TCP, UDP, SCTP and DCCP port numbers
//! are used for.
//!
//! The layout, from pure to effectful:
//! - [`model`]: protocols, the status legend, one use of a port.
//! - [`txt`]: the TXT answer format and its character-string encoding.
//! - [`table`]: the merged, indexed port table (immutable; swapped whole on reload).
//! - [`sources`]: reading the data files (port list, excerpt, IANA registry, local overrides)
//!   and merging them into table entries.
//! - [`names`]: what a query name under the zone refers to.
//! - [`answer`]: the records, flags and response code for one question.
//! - [`wire`]: the UDP fast path's parser and hickory-identical encoder.
//! - [`present`]: the zone as a master file, and `portsd lookup` output.
//! - [`rrl`]: response rate limiting per client prefix.
//! - [`acl`]: access lists of allowed and denied networks.
//! - [`handler`]: the hickory-server request handler (the general path).
//! - [`metrics`]: counters and the Prometheus endpoint.
//! - [`batch`]: batched UDP receive and send.
//! - [`server`]: sockets, serving loops, reload, shutdown, service-manager notifications.
//! - [`watch`]: `--watch`, changes to the data files turned into reloads.
//! - [`config`]: command line, environment and configuration file.
//! - [`fuzzing`]: the entry point the fuzzer drives.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod acl;
pub mod answer;
pub mod batch;
pub mod config;
pub mod fuzzing;
pub mod handler;
pub mod metrics;
pub mod model;
pub mod names;
pub mod present;
pub mod rrl;
pub mod server;
pub mod sources;
pub mod table;
pub mod txt;
pub mod watch;
pub mod wire;
