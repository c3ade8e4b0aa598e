//! The server in process, over real loopback sockets: DNS rules (`dns`), agreement with NSD
//! and Knot on the same zone (`conform`), DNS cookies (`cookies`), the fast path's equivalence with hickory's encoder
//! (`fast_path`), the fuzz corpus replayed (`fuzz_corpus`), rate limiting, access lists and
//! metrics (`guard`), hostile clients (`hostile`), TCP beyond the connection cap
//! (`pressure`), the HTTP API, page's defences (`http`), the pages for people and the HTTP metrics (`pages`), and every table entry
//! reachable by name (`reach`). One test binary, so tokio and hickory are linked once for all of them.

#[path = "../common/mod.rs"]
mod common;

mod conform;
mod cookies;
mod dns;
mod fast_path;
mod fuzz_corpus;
mod guard;
mod hostile;
mod http;
mod pages;
mod pressure;
mod reach;
mod search;
