//! The server's start-up: it answers before the zone's search index is built and its digest
//! (ZONEMD) computed, and a search, a ZONEMD question or a zone transfer asked meanwhile waits
//! for what it needs, over its own connection, while the other connections are answered.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::num::NonZeroUsize;
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};

use super::{DataLocation, Listeners, Server, Settings};
use crate::wire::types::ZONEMD;

/// How long any answer is waited for: a limit, not a measure (they come in milliseconds).
const LIMIT: Duration = Duration::from_secs(20);

fn request(id: u16, name: &str, qtype: RecordType) -> Vec<u8> {
    let mut message = Message::query();
    message.metadata.id = id;
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    message.to_vec().unwrap()
}

fn tcp_ask(addr: SocketAddr, request: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(LIMIT)).unwrap();
    let length = u16::try_from(request.len()).unwrap().to_be_bytes();
    stream.write_all(&[&length[..], request].concat()).unwrap();
    stream
}

fn tcp_read(stream: &mut TcpStream) -> Message {
    let mut length = [0; 2];
    stream
        .read_exact(&mut length)
        .expect("an answer within the limit");
    let mut message = vec![0; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut message).unwrap();
    Message::from_vec(&message).unwrap()
}

/// The RDATA of the ZONEMD records among `message`'s answers.
fn zonemd_of(message: &Message) -> Vec<Vec<u8>> {
    (message.answers.iter())
        .filter(|r| r.record_type() == ZONEMD)
        .map(|r| match &r.data {
            RData::Unknown { rdata, .. } => rdata.anything.clone(),
            other => panic!("ZONEMD read as {other:?}"),
        })
        .collect()
}

#[test]
fn start_up_answers_before_the_digest_and_what_carries_it_waits_for_it() {
    let (zone, table) = crate::pipeline::tests::one_use();
    let expected_search = crate::pipeline::tests::search_later(&table);
    let table = crate::pipeline::tests::search_later(&table);
    let mut settings = Settings::new(DataLocation::Builtin);
    settings.policy.transfer.allow = vec!["127.0.0.0/8".parse().unwrap()];
    let listeners = Listeners::bind(&["127.0.0.1:0".parse().unwrap()], NonZeroUsize::MIN).unwrap();
    let addr = listeners.udp[0].local_addr().unwrap();
    let server = Server::new(vec![zone], table, settings);
    // The digest `run` would start: held here, so that everything below happens before it.
    let digest = (server.digest.lock().unwrap().take()).expect("the digest is left to run()");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = server.clone();
    let serving = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let until_stopped = async move { stopped.await.unwrap_or_default() };
        runtime
            .unwrap()
            .block_on(running.run(listeners, until_stopped))
    });

    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(LIMIT)).unwrap();
    udp.send_to(&request(1, "443.tcp.ports.test.", RecordType::TXT), addr)
        .unwrap();
    let mut buffer = [0; 4096];
    let (length, _) = udp
        .recv_from(&mut buffer)
        .expect("answered before the digest");
    assert_eq!(
        Message::from_vec(&buffer[..length]).unwrap().answers.len(),
        1
    );

    let mut zonemd = tcp_ask(addr, &request(2, "ports.test.", ZONEMD));
    let mut axfr = tcp_ask(addr, &request(3, "ports.test.", RecordType::AXFR));
    // Those two wait for the digest off the serving thread: a third connection is answered.
    let mut other = tcp_ask(addr, &request(4, "443.tcp.ports.test.", RecordType::TXT));
    assert_eq!(tcp_read(&mut other).answers.len(), 1);
    assert!(!server.pipeline.snapshot().zonemd.is_ready());
    // A search asked before the start-up job ran gets the built index's answer, over TCP
    // (waiting off the serving thread) and over UDP.
    let mut search = tcp_ask(addr, &request(5, "tls.search.ports.test.", RecordType::TXT));
    let found = tcp_read(&mut search);
    udp.send_to(&request(6, "tls.search.ports.test.", RecordType::TXT), addr)
        .unwrap();
    let (length, _) = udp.recv_from(&mut buffer).expect("a search answered");
    let over_udp = Message::from_vec(&buffer[..length]).unwrap();
    let mut ids = crate::core::table::EntryIds::new();
    expected_search.search(&[b"tls"], &mut ids);
    // Search answers are ranked: each text after its rank.
    let expected: Vec<String> = (1..)
        .zip(&ids)
        .map(|(rank, &id)| {
            let text = crate::core::txt::entry_text(expected_search.entry(id));
            format!("{rank} | {text}")
        })
        .collect();
    assert_eq!(expected.len(), 1);
    for answer in [found, over_udp] {
        let answered: Vec<String> = (answer.answers.iter())
            .map(|record| match &record.data {
                RData::TXT(txt) => String::from_utf8(txt.txt_data.concat()).unwrap(),
                other => panic!("a search answered {other:?}"),
            })
            .collect();
        assert_eq!(answered, expected);
    }

    drop(digest.run());
    let expected = server.pipeline.snapshot().zonemd.rdata().to_vec();
    assert_eq!(expected.len(), 6 + 48, "serial, scheme, algorithm, SHA-384");
    assert_eq!(
        zonemd_of(&tcp_read(&mut zonemd)),
        std::slice::from_ref(&expected)
    );
    let first = tcp_read(&mut axfr);
    assert_eq!(first.answers[0].record_type(), RecordType::SOA);
    assert_eq!(zonemd_of(&first), [expected]);

    stop.send(()).unwrap();
    serving.join().unwrap().unwrap();
}
