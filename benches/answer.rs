//! Wire query in → wire answer out, in process: the whole request pipeline
//! (`Pipeline::handle`, as the UDP loop calls it), the fast path alone and the general hickory
//! path alone on the same packets, so the costs show side by side for each kind of answer.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use std::sync::Arc;
use std::time::Instant;

use portsd::config::ZoneArgs;
use portsd::metrics::Metrics;
use portsd::pipeline::{Outcome, Pipeline, Policy};
use portsd::transport::Transport;

/// A query as `dig` sends it: recursion desired, EDNS with a 1232-byte payload.
fn packet(name: &str, rtype: RecordType) -> Vec<u8> {
    let mut message = Message::new(0x5150, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    let mut question = Query::query(Name::from_ascii(name).expect("a valid name"), rtype);
    question.set_query_class(DNSClass::IN);
    message.add_query(question);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    message.edns = Some(edns);
    message.to_vec().expect("the query encodes")
}

fn answer_paths(c: &mut Criterion) {
    let (zone, data) = ZoneArgs::default()
        .resolve_one(&[])
        .expect("the default zone");
    // The table `serve` builds by default: the built-in data, the synonym list and, when the
    // host has them, /etc/services and nmap's frequencies (which rank the search).
    let table = data.load().expect("the built-in data loads").into_table();
    // Loopback is exempt from rate limiting by default, so every answer goes through the
    // limiter's check but none is limited, as for dnsperf in benches/compare.sh.
    let pipeline = Pipeline::new(zone, table, 1, Policy::default(), Arc::new(Metrics::new()));
    let client: SocketAddr = "127.0.0.1:53000".parse().expect("an address");
    // Every case asks for TXT.
    let cases = [
        ("txt_443_tcp", "443.tcp.ports.local."),
        ("txt_12_records_4444", "4444.ports.local."),
        ("txt_unassigned_port", "47999.udp.ports.local."),
        ("txt_service_mixed_case", "HTTPs.tcp.Ports.Local."),
        ("nxdomain", "x.443.tcp.ports.local."),
        ("refused", "443.tcp.example.com."),
        // Keyword search, to be held within 3x a port answer's time (`txt_443_tcp`) for one
        // word and 6x for the worst shape.
        ("search_minecraft", "minecraft.search.ports.local."),
        ("search_postgres", "postgres.search.ports.local."),
        ("search_two_words", "java.minecraft.search.ports.local."),
        ("search_no_match", "nosuchword.search.ports.local."),
        // A word and a common word (`server`, in one use in eleven) that may be left out.
        ("search_common_word", "ldap.server.search.ports.local."),
        // The costliest shape: a two-letter prefix matching thousands of words' entries.
        ("search_short_prefix", "se.search.ports.local."),
    ]
    .map(|(name, query)| (name, packet(query, RecordType::TXT)));
    for (name, query) in &cases {
        let mut group = c.benchmark_group(format!("answer/{name}"));
        let mut out = Vec::with_capacity(1232);
        group.bench_function("pipeline", |b| {
            b.iter(|| {
                let outcome = pipeline.handle(
                    black_box(query),
                    client,
                    Transport::Udp,
                    Instant::now(),
                    &mut out,
                );
                assert!(matches!(outcome, Outcome::Reply));
                out.len()
            })
        });
        group.bench_function("fast_response", |b| {
            b.iter(|| {
                assert!(pipeline.fast_response(black_box(query), Transport::Udp, &mut out));
                out.len()
            })
        });
        group.bench_function("general_response", |b| {
            b.iter(|| {
                pipeline
                    .general_response(black_box(query), client, Transport::Udp)
                    .map(|answer| answer.len())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, answer_paths);
criterion_main!(benches);
