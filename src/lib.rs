//! portsd: an authoritative DNS server that answers what TCP, UDP, SCTP and DCCP port numbers
//! are used for.
//!
//! The layout, from pure to effectful:
//! - [`core`]: the answer core, no I/O: vocabulary, table, names, answers, presentation.
//! - [`transport`]: the transports a request arrives on, named for the pipeline, the serving
//!   loops and the metrics alike.
//! - [`sources`]: reading the data files and merging them into table entries.
//! - [`pipeline`]: the request pipeline: request bytes in; a response, silence or a zone
//!   transfer out.
//! - `wire`: DNS wire format written and read by hand, the request view among it.
//! - [`metrics`]: the counters every part records into.
//! - [`dnstap`]: queries and responses handed to a dnstap collector, off the request path.
//! - [`serve`]: sockets, serving loops, lifecycle.
//! - [`config`]: command line, environment and configuration file.
//! - [`manual`]: man pages and shell completions from the command line's definitions.
//! - [`update`]: downloading a fresh IANA registry, seeding a data directory.
//! - [`fuzzing`]: the entry point the fuzzer drives.
//! - `file_error`: the `file:line: reason` error of every file a person writes.
//! - `memory`: the allocator's settings and giving freed memory back, around data loads.
// Two calls into the C library, in `memory`, are allowed by name; nothing else.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod core;
pub mod dnstap;
pub mod explain;
pub(crate) mod file_error;
pub mod fuzzing;
pub mod manual;
pub(crate) mod memory;
pub mod metrics;
pub mod pipeline;
pub mod serve;
pub mod sources;
pub mod transport;
pub mod update;
pub(crate) mod wire;
