use super::frames::{self, Control};
use super::*;

#[test]
fn targets_are_read_as_written() {
    assert_eq!(
        "unix:/run/dnstap.sock".parse(),
        Ok(Target::Unix("/run/dnstap.sock".into()))
    );
    assert_eq!(
        "tcp:[::1]:6000".parse(),
        Ok(Target::Tcp("[::1]:6000".parse().unwrap()))
    );
    for bad in ["unix:", "tcp:localhost", "udp:1.2.3.4:5", "/run/x.sock", ""] {
        assert!(bad.parse::<Target>().is_err(), "{bad}");
    }
    let target = Target::Tcp("192.0.2.1:6000".parse().unwrap());
    assert_eq!(target.to_string().parse(), Ok(target));
}

#[test]
fn control_frames_carry_the_content_type_and_read_back() {
    let ready = frames::control(Control::Ready);
    assert_eq!(&ready[..4], &[0; 4], "the escape");
    let len = u32::from_be_bytes(ready[4..8].try_into().unwrap()) as usize;
    assert_eq!(len, ready.len() - 8);
    let (kind, types) = frames::parse_control(&ready[8..]).unwrap();
    assert_eq!(kind, Control::Ready as u32);
    assert_eq!(types, [frames::CONTENT_TYPE.as_bytes()]);
    let stop = frames::control(Control::Stop);
    assert_eq!(frames::parse_control(&stop[8..]).unwrap(), (3, vec![]));
    assert!(frames::parse_control(&ready[8..ready.len() - 1]).is_err());
    assert!(frames::accepts(1, &[]));
    assert!(frames::accepts(
        1,
        &[b"other", frames::CONTENT_TYPE.as_bytes()]
    ));
    assert!(!frames::accepts(1, &[b"other"]));
    assert!(!frames::accepts(5, &[]));
}

#[test]
fn a_full_queue_drops_and_counts_without_waiting() {
    let metrics = Arc::new(Metrics::new());
    let (tap, mut queue) = super::queue(metrics.clone(), Origin::default());
    let client: SocketAddr = "192.0.2.7:5300".parse().unwrap();
    for _ in 0..QUEUE_EVENTS + 10 {
        tap.exchange(client, Transport::Udp, Duration::ZERO, b"query", b"answer");
    }
    assert!(
        metrics
            .render()
            .contains("portsd_dnstap_dropped_total 10\n")
    );
    let event = queue.events.try_recv().unwrap();
    let mut out = Vec::new();
    let origin = Origin {
        identity: Some("ns1".into()),
        version: Some("portsd test".into()),
    };
    assert_eq!(encode(&event, &origin, &mut out), 2);
    // Two data frames, each its length and then a protobuf holding the identity, the version
    // and the DNS message.
    let first = u32::from_be_bytes(out[..4].try_into().unwrap()) as usize;
    let (one, two) = out[4..].split_at(first);
    for (frame, dns) in [(one, &b"query"[..]), (&two[4..], &b"answer"[..])] {
        let decoded = <message::Dnstap as prost::Message>::decode(frame).unwrap();
        assert_eq!(
            decoded,
            message::Dnstap::new(&origin, decoded.message.clone().unwrap())
        );
        let text = format!("{decoded:?}");
        assert!(
            text.contains(&format!("{:?}", bytes::Bytes::from_static(dns))),
            "{text}"
        );
    }
}
