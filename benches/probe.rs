//! A latency probe for `benches/compare.sh`: one thread sends UDP queries at a fixed rate to one
//! or more servers at once and busy-polls for the answers, recording every round trip.
//!
//! Open loop: each query leaves at its scheduled time whether or not earlier ones were
//! answered. Never sleeping, the probe adds no wake-up of its own to what it measures, unlike
//! dnsperf, whose sending and receiving threads share the client's core.
//!
//! Several `--server`s are asked interleaved: every tick sends the same query to each of them,
//! in an order that changes from tick to tick so that none is favoured. Answers are timed by the
//! kernel's receive timestamp. On a virtual machine the latency tail is set by
//! the moments the hypervisor takes the servers' core away; servers asked side by side live
//! through the same moments, so their percentiles can be compared round by round.
//!
//! Usage (from compare.sh, on a core of its own):
//! `probe --server 127.0.0.1:PORT [--server ...] --queries FILE --rate 10000 --duration 5`
//! prints one JSON object per server, in the order given: counts, the seconds spent sending,
//! and round-trip percentiles in microseconds. A query unanswered after `--timeout-ms` counts
//! as lost.

use std::fs;
use std::io::ErrorKind;
use std::io::{IoSliceMut, Write};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Parser;
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use nix::errno::Errno;
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use nix::sys::time::TimeSpec;

#[derive(Parser)]
struct Args {
    /// Server address; repeat to ask several servers interleaved.
    #[arg(long)]
    server: Vec<SocketAddr>,
    /// dnsperf-style query file: `NAME TYPE` per line.
    #[arg(long)]
    queries: Option<PathBuf>,
    /// Queries per second to each server.
    #[arg(long, default_value_t = 20_000)]
    rate: u32,
    /// Seconds of sending.
    #[arg(long, default_value_t = 5)]
    duration: u64,
    /// How long an unanswered query is waited for before it counts as lost.
    #[arg(long, default_value_t = 1000)]
    timeout_ms: u64,
    /// Passed by `cargo bench`, which runs every bench target: without servers to ask, the probe
    /// then says what it is and succeeds, so `cargo bench` runs the micro-benchmarks through.
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
    sent_at: Vec<Option<SystemTime>>,
    waiting: usize,
    round_trips: Vec<Duration>,
    lost: u64,
}

impl Tally {
    fn sent(&mut self, id: u16, at: SystemTime) {
        // An ID comes round again after 65,536 queries; one still unanswered by then is lost.
        if self.sent_at[usize::from(id)].replace(at).is_some() {
            self.lost += 1;
        } else {
            self.waiting += 1;
        }
    }

    fn answered(&mut self, answer: &[u8], at: SystemTime) {
        if let [high, low, ..] = *answer
            && let Some(sent) = self.sent_at[usize::from(u16::from_be_bytes([high, low]))].take()
        {
            self.round_trips
                .push(at.duration_since(sent).unwrap_or_default());
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

/// One server's socket and tally.
struct Target {
    socket: UdpSocket,
    /// Room for the receive timestamp's control message.
    control: Vec<u8>,
    tally: Tally,
}

impl Target {
    fn connect(server: SocketAddr, expected: usize) -> Result<Target> {
        let socket = UdpSocket::bind(if server.is_ipv6() {
            "[::1]:0"
        } else {
            "127.0.0.1:0"
        })?;
        socket.connect(server)?;
        socket.set_nonblocking(true)?;
        // Room for every answer of a long stall of this core (the servers' buffers are
        // compared, not the probe's): forced past net.core.rmem_max where allowed.
        let room: usize = 8 << 20;
        if setsockopt(&socket, sockopt::RcvBufForce, &room).is_err() {
            socket2::SockRef::from(&socket).set_recv_buffer_size(room)?;
        }
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true)?;
        Ok(Target {
            socket,
            control: nix::cmsg_space!(TimeSpec),
            tally: Tally {
                sent_at: vec![None; usize::from(u16::MAX) + 1],
                waiting: 0,
                round_trips: Vec::with_capacity(expected),
                lost: 0,
            },
        })
    }

    /// Takes one answer if one is there. Its arrival time is the kernel's receive timestamp
    /// (`SO_TIMESTAMPNS`), so neither the order in which the probe polls its sockets nor a
    /// stall of the probe's own core counts against a server.
    fn receive(&mut self, buffer: &mut [u8]) -> Result<bool> {
        let mut iov = [IoSliceMut::new(buffer)];
        let (length, arrived) = match recvmsg::<()>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut self.control),
            MsgFlags::MSG_DONTWAIT,
        ) {
            Ok(message) => {
                let stamp = message.cmsgs().ok().and_then(|mut all| {
                    all.find_map(|control| match control {
                        ControlMessageOwned::ScmTimestampns(at) => {
                            let nanos = u64::try_from(at.tv_sec()).ok()? * 1_000_000_000
                                + u64::try_from(at.tv_nsec()).ok()?;
                            Some(UNIX_EPOCH + Duration::from_nanos(nanos))
                        }
                        _ => None,
                    })
                });
                (message.bytes, stamp.unwrap_or_else(SystemTime::now))
            }
            Err(Errno::EAGAIN | Errno::ECONNREFUSED) => return Ok(false),
            Err(error) => return Err(error).context("receiving"),
        };
        self.tally.answered(&buffer[..length], arrived);
        Ok(true)
    }

    fn send(&mut self, packet: &[u8], id: u16) -> Result<()> {
        // The wall clock, to match the kernel's receive timestamps.
        self.tally.sent(id, SystemTime::now());
        match self.socket.send(packet) {
            Ok(_) => Ok(()),
            // A full send buffer or a refused port: the query goes unanswered, which counts.
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::WouldBlock | ErrorKind::ConnectionRefused
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(error).context("sending"),
        }
    }

    fn report(mut self, sent: u64, seconds: f64) -> Result<String> {
        self.tally.give_up();
        let round_trips = &mut self.tally.round_trips;
        round_trips.sort_unstable();
        if round_trips.is_empty() {
            bail!("no query was answered");
        }
        Ok(format!(
            "{{\"sent\": {sent}, \"answered\": {}, \"lost\": {}, \"seconds\": {seconds:.2}, \
             \"p50_us\": {}, \"p90_us\": {}, \"p99_us\": {}, \"p999_us\": {}, \"max_us\": {}}}",
            round_trips.len(),
            self.tally.lost,
            percentile(round_trips, 0.50),
            percentile(round_trips, 0.90),
            percentile(round_trips, 0.99),
            percentile(round_trips, 0.999),
            percentile(round_trips, 1.0),
        ))
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let (false, Some(queries)) = (args.server.is_empty(), &args.queries) else {
        if args.bench && args.server.is_empty() {
            println!(
                "probe: the latency probe benches/compare.sh drives; no servers given, nothing to measure"
            );
            return Ok(());
        }
        bail!("--server and --queries are required");
    };
    if args.rate == 0 {
        bail!("--rate must be above 0");
    }
    let queries = load_queries(queries)?;
    let ticks = u64::from(args.rate) * args.duration;
    let mut targets = args
        .server
        .iter()
        .map(|&server| Target::connect(server, ticks as usize))
        .collect::<Result<Vec<_>>>()?;
    let mut buffer = [0u8; 65535];
    let mut receive_all = |targets: &mut [Target]| -> Result<bool> {
        let mut any = false;
        for target in targets {
            any |= target.receive(&mut buffer)?;
        }
        Ok(any)
    };

    let interval = Duration::from_secs(1) / args.rate;
    let mut packet = Vec::with_capacity(512);
    let start = Instant::now();
    let mut next = start;
    for tick in 0..ticks {
        while Instant::now() < next {
            if !receive_all(&mut targets)? {
                std::hint::spin_loop();
            }
        }
        let id = tick as u16;
        packet.clear();
        packet.extend_from_slice(&queries[tick as usize % queries.len()]);
        packet[..2].copy_from_slice(&id.to_be_bytes());
        // The server asked first is answered first (they share a core), so the order changes
        // every tick: each server in turn goes first, the others following in rotation, forwards
        // in one cycle and backwards in the next, so that every server precedes every other
        // equally often.
        let count = targets.len();
        let first = tick as usize % count;
        let backwards = (tick as usize / count) % 2 == 1;
        for turn in 0..count {
            let step = if backwards { count - turn } else { turn };
            targets[(first + step) % count].send(&packet, id)?;
        }
        next = start + interval * (tick + 1) as u32;
    }
    let sending = start.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_millis(args.timeout_ms);
    while targets.iter().any(|target| target.tally.waiting > 0) && Instant::now() < deadline {
        receive_all(&mut targets)?;
    }
    let mut out = std::io::stdout().lock();
    for target in targets {
        writeln!(out, "{}", target.report(ticks, sending)?)?;
    }
    Ok(())
}
