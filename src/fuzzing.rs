//! The entry point the cargo-fuzz target in `fuzz/` drives: raw bytes through the request
//! pipeline, with no sockets. Besides "no panic", it checks that the fast path, whenever it
//! takes a message, answers exactly what the general hickory path answers, on both transports.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use crate::config::ZoneArgs;
use crate::core::table::Table;
use crate::metrics::Metrics;
use crate::pipeline::{Outcome, Pipeline, Policy};
use crate::transport::Transport;

static PIPELINE: LazyLock<Pipeline> = LazyLock::new(|| {
    let (zone, data) = ZoneArgs::default()
        .resolve(&[])
        .expect("the default zone is valid");
    let table = Table::new(data.load().expect("the built-in data loads").entries);
    Pipeline::new(zone, table, 1, Policy::default(), Arc::new(Metrics::new()))
});

/// Runs one raw DNS message through the pipeline over UDP and TCP and checks that the fast
/// path, when it answers, agrees with the general path byte for byte.
pub fn answer_bytes(request: &[u8]) {
    let pipeline = &*PIPELINE;
    let client: SocketAddr = ([192, 0, 2, 1], 5353).into();
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        let mut fast = Vec::new();
        if pipeline.fast_response(request, transport, &mut fast) {
            let general = pipeline.general_response(request, client, transport);
            assert_eq!(
                Some(fast),
                general,
                "fast and general paths disagree on {transport:?}"
            );
        }
        if let Outcome::Transfer(mut transfer) =
            pipeline.handle(request, client, transport, Instant::now(), &mut out)
        {
            while transfer.next_message(&mut out) {}
        }
    }
}
