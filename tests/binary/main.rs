//! The built `portsd` binary and the shipped files, driven as an operator would:
//! - the command line (`cli`), its mistakes each answered by one pinned line (`mistakes`), and
//!   `explain` on this host's own sockets and on real `ss` output (`explain`); the daemon's life
//!   under signals, reloads and socket activation (`lifecycle`);
//! - the deployment files checked by systemd and the resolvers' own checkers (`deploy`), and the
//!   unbound recipes end to end, over TLS too (`resolver_unbound`);
//! - the Debian package under a real systemd as PID 1 (`package`, booted by `real_systemd`), and
//!   `update-data` against a local HTTP server (`update_data`, served by `fixture_http`);
//! - DNS cookies shared with Knot (`cookies`); the daemon out of descriptors and the metrics
//!   endpoint under pressure (`descriptors`); the HTTP page in a real headless chromium and the
//!   API's bodies against `lookup --json` (`page`); every answer compared with NSD's and Knot's on
//!   the same zone (`differential`, with `differential-allow.toml`), the servers started by
//!   `external`;
//! - dnstap to a real collector, `fstrm_capture`, read back by `dnstap-read` (`dnstap`);
//! - zone transfers and TSIG (`transfer`), NOTIFY (`notify`), and NSD, Knot and BIND as
//!   secondaries of portsd (`secondaries`; BIND also over TLS, XoT);
//! - several zones from one table, each with its own apex, digest and journal (`zones`);
//! - the zone's digest checked by `ldns-verify-zone` and by Knot as a secondary (`zonemd`), the
//!   SOA timers as settings and EDNS EXPIRE (`soa_timers`);
//! - DNS over TLS with kdig, dig and rustls, under pressure and across reloads (`dot`); DNS
//!   over HTTPS with dig, curl and rustls (`doh`);
//! - every command example of the documentation run as written, or marked not runnable
//!   (`docs`).

#[path = "../common/mod.rs"]
mod common;

mod catalog;
mod cli;
mod cookies;
mod deploy;
mod descriptors;
mod differential;
mod dnstap;
mod docs;
mod doh;
mod dot;
mod explain;
mod external;
mod fixture_http;
mod lifecycle;
mod mistakes;
mod notify;
mod package;
mod page;
mod real_systemd;
mod resolver_unbound;
mod restarts;
mod secondaries;
mod soa_timers;
mod transfer;
mod update_data;
mod zonemd;
mod zones;
