//! TSIG: key files, checks of signed requests and signed responses.

use super::key_file::parse_keys;
use super::*;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use hickory_proto::rr::{Name, RecordType, TSigner};

const KEY_FILE: &str = "# made by tsig-keygen\nkey \"xfr-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=\";\n};\n/* a second */ key other { algorithm hmac-sha512; secret \"AAAA\"; };\n";

#[test]
fn tsig_keygen_files_are_read() {
    let keys = parse_keys("k.conf", KEY_FILE).unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].name(), "xfr-key.");
    assert_eq!(keys[0].algorithm, TsigAlgorithm::HmacSha256);
    assert_eq!(keys[1].algorithm, TsigAlgorithm::HmacSha512);
    assert!(
        !format!("{:?}", keys[0]).contains("c2Vj"),
        "Debug hides the secret"
    );
}

#[test]
fn bad_key_files_name_their_line() {
    for (text, line, words) in [
        (
            "key a {\n algorithm hmac-md5;\n secret \"AAAA\";\n};",
            1,
            "unsupported algorithm",
        ),
        (
            "key a {\n algorithm hmac-sha256;\n secret \"!!\";\n};",
            3,
            "base64",
        ),
        ("key a {\n algorithm hmac-sha256;\n};", 1, "no secret"),
        (
            "key a {\n algorithm hmac-sha256\n secret \"AAAA\";\n};",
            3,
            "expected ;",
        ),
        ("zone a {};", 1, "expected `key`"),
        ("key a {\n algorithm hmac-sha256;", 2, "end of the file"),
    ] {
        let err = parse_keys("k.conf", text)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(&format!("k.conf:{line}: ")),
            "{text:?}: {err}"
        );
        assert!(err.contains(words), "{text:?}: {err}");
    }
}

/// One HMAC-SHA256 key, `xfr-key`, as portsd holds it and as a client signs with it; also
/// used by the transfer tests.
pub(crate) fn keyring() -> (Keyring, TSigner) {
    let secret = b"0123456789abcdef0123456789abcdef".to_vec();
    let key = Key::new("xfr-key", "hmac-sha256", secret.clone()).unwrap();
    let signer = TSigner::new(
        secret,
        TsigAlgorithm::HmacSha256,
        Name::from_ascii("xfr-key.").unwrap(),
        300,
    )
    .unwrap();
    (Keyring::new(vec![key]).unwrap(), signer)
}

/// `ports.test. AXFR`, ID 4321, signed by `signer` at `time`.
pub(crate) fn signed_query(signer: &TSigner, time: u64) -> Vec<u8> {
    let mut message = Message::query();
    message.metadata.id = 4321;
    message.add_query(Query::query(
        Name::from_ascii("ports.test.").unwrap(),
        RecordType::AXFR,
    ));
    let (tsig, _) = signer.sign_message(&message, time).unwrap();
    message.signature = Some(tsig);
    message.to_vec().unwrap()
}

/// The request view the pipeline hands the check.
fn view(bytes: &[u8]) -> crate::wire::Request<'_> {
    crate::wire::Request::read(bytes).unwrap()
}

fn tsig_error(response: &[u8]) -> (ResponseCode, Option<TsigError>, usize) {
    let message = Message::from_vec(response).unwrap();
    let signature = message.signature.clone().expect("a TSIG record");
    (
        message.response_code,
        signature.data.error,
        signature.data.mac.len(),
    )
}

#[test]
fn a_good_signature_is_accepted_and_the_response_verifies() {
    let (keys, client) = keyring();
    let now = now();
    let request = signed_query(&client, now);
    let Check::Signed(mut signer) = check(&keys, &view(&request), now) else {
        panic!("a good signature");
    };
    // Two messages of a response: the client's verifier checks the chain.
    let request_message = Message::from_vec(&request).unwrap();
    let request_mac = request_message.signature.unwrap().data.mac;
    let mut first = Message::response(4321, hickory_proto::op::OpCode::Query)
        .to_vec()
        .unwrap();
    signer.sign(&mut first, now);
    let mut second = Message::response(4321, hickory_proto::op::OpCode::Query)
        .to_vec()
        .unwrap();
    signer.sign(&mut second, now);
    let (mac1, _, _) = client
        .verify_message_byte(&first, Some(&request_mac), true)
        .expect("the first message verifies over the request MAC");
    client
        .verify_message_byte(&second, Some(&mac1), false)
        .expect("the second verifies over the first MAC and the timers");
    assert!(
        client
            .verify_message_byte(&second, Some(&request_mac), false)
            .is_err(),
        "chained to the previous MAC, not the request's"
    );
}

#[test]
fn unknown_keys_bad_macs_and_skewed_clocks_are_notauth() {
    let (keys, client) = keyring();
    let now = now();
    let stranger = TSigner::new(
        b"0123456789abcdef0123456789abcdef".to_vec(),
        TsigAlgorithm::HmacSha256,
        Name::from_ascii("stranger.").unwrap(),
        300,
    )
    .unwrap();
    let Check::Rejected(response, TsigError::BadKey) =
        check(&keys, &view(&signed_query(&stranger, now)), now)
    else {
        panic!("unknown key")
    };
    assert_eq!(
        tsig_error(&response),
        (ResponseCode::NotAuth, Some(TsigError::BadKey), 0),
        "unsigned"
    );
    let mut tampered = signed_query(&client, now);
    let last = tampered.len() - 10; // inside the MAC
    tampered[last] ^= 1;
    let Check::Rejected(response, TsigError::BadSig) = check(&keys, &view(&tampered), now) else {
        panic!("bad MAC")
    };
    assert_eq!(
        tsig_error(&response),
        (ResponseCode::NotAuth, Some(TsigError::BadSig), 0),
        "unsigned"
    );
    let Check::Rejected(response, TsigError::BadTime) =
        check(&keys, &view(&signed_query(&client, now - 301)), now)
    else {
        panic!("skewed clock")
    };
    assert_eq!(
        tsig_error(&response),
        (ResponseCode::NotAuth, Some(TsigError::BadTime), 32),
        "signed"
    );
    assert!(matches!(
        check(&keys, &view(&signed_query(&client, now - 299)), now),
        Check::Signed(_)
    ));
    let mut unsigned = Message::query();
    unsigned.add_query(Query::query(
        Name::from_ascii("ports.test.").unwrap(),
        RecordType::SOA,
    ));
    assert!(matches!(
        check(&keys, &view(&unsigned.to_vec().unwrap()), now),
        Check::Unsigned
    ));
}

#[test]
fn the_room_a_signer_asks_for_is_what_it_appends() {
    for algorithm in ["hmac-sha256", "hmac-sha384", "hmac-sha512"] {
        let key = Arc::new(Key::new("a-longer.key-name.example", algorithm, vec![7; 32]).unwrap());
        for first in [true, false] {
            let mut signer = Signer {
                key: key.clone(),
                previous_mac: vec![1; 32],
                original_id: 9,
                first,
            };
            let mut message = Message::response(9, hickory_proto::op::OpCode::Query)
                .to_vec()
                .unwrap();
            let before = message.len();
            let room = signer.room();
            signer.sign(&mut message, now());
            assert_eq!(message.len() - before, room, "{algorithm}");
        }
    }
}

#[test]
fn notifies_portsd_sends_are_signed_as_hickory_verifies_requests() {
    let (keys, client) = keyring();
    let zone = crate::core::zone::Zone::new(
        crate::core::names::parse_domain("ports.test").unwrap(),
        crate::core::names::parse_domain("ns.ports.test").unwrap(),
        vec!["192.0.2.1".parse().unwrap()],
        60,
    );
    let mut notify = Vec::new();
    crate::wire::write_notify(&zone, 2024, 0x1357, &mut notify);
    let mac = keys.first().unwrap().sign_request(&mut notify, now());
    let message = Message::from_vec(&notify).expect("hickory reads the NOTIFY");
    assert_eq!(message.metadata.op_code, hickory_proto::op::OpCode::Notify);
    assert!(message.metadata.authoritative);
    assert_eq!(message.metadata.id, 0x1357);
    assert_eq!(message.queries[0].query_type(), RecordType::SOA);
    assert_eq!(message.queries[0].name().to_string(), "ports.test.");
    let hickory_proto::rr::RData::SOA(soa) = &message.answers[0].data else {
        panic!("an SOA answer");
    };
    assert_eq!(
        (soa.serial, message.answers[0].name.to_string()),
        (2024, "ports.test.".to_owned())
    );
    assert_eq!(message.signature.unwrap().data.mac, mac);
    client
        .verify_message_byte(&notify, None, true)
        .expect("the request's signature verifies");
}
