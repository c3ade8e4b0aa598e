//! A latency probe for `benches/compare.sh`: one thread sends UDP queries at a fixed rate
//! (open loop: each query leaves at its scheduled time whether or not earlier ones were
//! answered) and busy-polls its socket for answers, recording every round trip.
//!
//! dnsperf's latencies include dnsperf's own scheduling: its sending and receiving threads share
//! the client's core, and a woken receiver can wait milliseconds for it. This probe never
//! sleeps, so what it measures is the kernel's loopback path plus the server's wake-up and
//! answer, which is the part a server can change.
//!
//! Usage (from compare.sh, on a core of its own):
//! `probe --server 127.0.0.1:PORT --queries FILE --rate 20000 --duration 5`
//! prints one JSON object: counts, the seconds spent sending, and round-trip percentiles in
//! microseconds. A query unanswered after `--timeout-ms` counts as lost.

use std::fs;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

#[derive(Parser)]
struct Args {
    /// Server address.
    #[arg(long)]
    server: SocketAddr,
    /// dnsperf-style query file: `NAME TYPE` per line.
    #[arg(long)]
    queries: PathBuf,
    /// Queries per second.
    #[arg(long, default_value_t = 20_000)]
    rate: u32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// How long an unanswered query is waited for before it counts as lost.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

/// The labels of a master-file name, with `\DDD` and `\X` escapes decoded (dnsperf's query
/// files use them for bytes such as `#`, which hickory's text parser refuses in a host name).
fn master_file_labels(name: &str) -> Vec<Vec<u8>> {
    let bytes = name.trim_end_matches('.').as_bytes();
    let mut labels = vec![Vec::new()];
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        at += 1;
        let literal = match byte {
            b'.' => {
                labels.push(Vec::new());
                continue;
            }
            b'\\' => match bytes
                .get(at..at + 3)
                .and_then(|digits| std::str::from_utf8(digits).ok()?.parse().ok())
            {
                Some(value) => {
                    at += 3;
                    value
                }
                None => {
                    at += 1;
                    bytes.get(at - 1).copied().unwrap_or(b'\\')
                }
            },
            _ => byte,
        };
        labels.last_mut().expect("never empty").push(literal);
    }
    labels
}

/// Every query of the file, encoded with ID 0 (the ID is written in as it is sent).
fn load_queries(path: &PathBuf) -> Result<Vec<Vec<u8>>> {
    let text = fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let mut queries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(rtype)) = (fields.next(), fields.next()) else {
            continue;
        };
        let place = || format!("{}:{}", path.display(), number + 1);
        let name = Name::from_labels(master_file_labels(name)).with_context(place)?;
        let rtype: RecordType = rtype.parse().with_context(place)?;
        let mut message = Message::new(0, MessageType::Query, OpCode::Query);
        message.add_query(Query::query(name, rtype));
        queries.push(message.to_vec().with_context(place)?);
    }
    if queries.is_empty() {
        bail!("{}: no queries", path.display());
    }
    Ok(queries)
}

/// Round trips, and the queries still waiting, by DNS ID.
struct Tally {
    sent_at: Vec<Option<Instant>>,
    waiting: usize,
    round_trips: Vec<Duration>,
    lost: u64,
}

impl Tally {
    fn sent(&mut self, id: u16, at: Instant) {
        // An ID comes round again after 65,536 queries; one still unanswered by then is lost.
        if self.sent_at[usize::from(id)].replace(at).is_some() {
            self.lost += 1;
        } else {
            self.waiting += 1;
        }
    }

    fn answered(&mut self, answer: &[u8], at: Instant) {
        if let [high, low, ..] = *answer
            && let Some(sent) = self.sent_at[usize::from(u16::from_be_bytes([high, low]))].take()
        {
            self.round_trips.push(at - sent);
            self.waiting -= 1;
        }
    }

    /// Counts every query still waiting as lost.
    fn give_up(&mut self) {
        self.lost += self.waiting as u64;
        self.waiting = 0;
    }
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 * fraction) as usize).min(sorted.len() - 1);
    (sorted[index].as_nanos() as f64 / 1000.0 * 10.0).round() / 10.0
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.rate == 0 {
        bail!("--rate must be above 0");
    }
    let queries = load_queries(&args.queries)?;
    let socket = UdpSocket::bind(if args.server.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    })?;
    socket.connect(args.server)?;
    socket.set_nonblocking(true)?;
    // Room for every answer of a long stall of this core (the servers' buffers are compared,
    // not the probe's): forced past net.core.rmem_max where allowed.
    let room = 8 << 20;
    if nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &room).is_err()
    {
        socket2::SockRef::from(&socket).set_recv_buffer_size(room)?;
    }

    let interval = Duration::from_secs(1) / args.rate;
    let total = u64::from(args.rate) * args.duration;
    let timeout = Duration::from_millis(args.timeout_ms);
    let mut tally = Tally {
        sent_at: vec![None; usize::from(u16::MAX) + 1],
        waiting: 0,
        round_trips: Vec::with_capacity(total as usize),
        lost: 0,
    };
    let mut packet = Vec::with_capacity(512);
    let mut buffer = [0u8; 65535];
    let receive = |tally: &mut Tally, buffer: &mut [u8]| -> Result<bool> {
        match socket.recv(buffer) {
            Ok(length) => {
                tally.answered(&buffer[..length], Instant::now());
                Ok(true)
            }
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::WouldBlock | ErrorKind::ConnectionRefused
                ) =>
            {
                Ok(false)
            }
            Err(error) => Err(error).context("receiving"),
        }
    };

    let start = Instant::now();
    let mut next = start;
    for sequence in 0..total {
        while Instant::now() < next {
            if !receive(&mut tally, &mut buffer)? {
                std::hint::spin_loop();
            }
        }
        let id = sequence as u16;
        packet.clear();
        packet.extend_from_slice(&queries[sequence as usize % queries.len()]);
        packet[..2].copy_from_slice(&id.to_be_bytes());
        let sent = Instant::now();
        tally.sent(id, sent);
        match socket.send(&packet) {
            Ok(_) => {}
            // A full send buffer or a refused port: the query is not answered, which counts.
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            Err(error) if error.kind() == ErrorKind::ConnectionRefused => {}
            Err(error) => return Err(error).context("sending"),
        }
        next = start + interval * (sequence + 1) as u32;
    }
    let sending = start.elapsed();
    let deadline = Instant::now() + timeout;
    while tally.waiting > 0 && Instant::now() < deadline {
        receive(&mut tally, &mut buffer)?;
    }
    tally.give_up();

    let mut round_trips = tally.round_trips;
    round_trips.sort_unstable();
    if round_trips.is_empty() {
        bail!("no query was answered");
    }
    println!(
        "{{\"sent\": {total}, \"answered\": {}, \"lost\": {}, \"seconds\": {:.2}, \
         \"p50_us\": {}, \"p90_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"max_us\": {}}}",
        round_trips.len(),
        tally.lost,
        sending.as_secs_f64(),
        percentile(&round_trips, 0.50),
        percentile(&round_trips, 0.90),
        percentile(&round_trips, 0.99),
        percentile(&round_trips, 0.999),
        percentile(&round_trips, 1.0),
    );
    Ok(())
}
