//! The entry point the cargo-fuzz target in `fuzz/` drives: raw bytes through the whole
//! request-to-response path, with no sockets. Besides "no panic", it checks that the UDP fast
//! path, whenever it takes a packet, answers exactly what the general hickory path answers.

use std::net::SocketAddr;
use std::sync::LazyLock;

use hickory_server::net::xfer::Protocol;

use crate::config::{FileConfig, ZoneArgs, resolve_zone};
use crate::core::table::Table;
use crate::serve::{DataLocation, Server, Settings};

struct Harness {
    server: Server,
    runtime: tokio::runtime::Runtime,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let (zone, data) = resolve_zone(&ZoneArgs::default(), &FileConfig::default(), &[])
        .expect("the default zone is valid");
    let table = Table::new(data.load().expect("the built-in data loads").entries);
    Harness {
        server: Server::new(zone, table, Settings::new(DataLocation::Builtin)),
        runtime: tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime"),
    }
});

/// Runs one raw DNS message through both paths (UDP and TCP) and checks that the fast path,
/// when it answers, agrees with the general path byte for byte.
pub fn answer_bytes(request: &[u8]) {
    let harness = &*HARNESS;
    let source: SocketAddr = ([192, 0, 2, 1], 5353).into();
    let mut fast = Vec::new();
    let took_fast = harness.server.fast_response(request, &mut fast);
    let general = harness.runtime.block_on(async {
        let udp = harness
            .server
            .general_response(request, source, Protocol::Udp)
            .await;
        harness
            .server
            .general_response(request, source, Protocol::Tcp)
            .await;
        udp
    });
    if took_fast {
        assert_eq!(Some(fast), general, "fast and general paths disagree");
    }
}
