//! IXFR across restarts (`--state-dir`): portsd killed with SIGKILL at each step of a reload
//! and of the start-up that follows changed data (strace stops it at the exact system call:
//! the rename that makes the serial, the zone kept or the journal durable, the removal of the
//! zone kept before), then started again. After every restart the serial has not gone back,
//! and the IXFR from every serial the test saw served, applied to the zone it held at that
//! serial, gives exactly the zone served now (an AXFR of it).

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::common::{Daemon, parse, tcp_connect, tcp_receive, tcp_send, udp_exchange};
use crate::transfer::{copy_data, ixfr, portsd_newer, soa_serials};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, Record, RecordType};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use portsd::sources::LOCAL_TSV;

/// The data's date before the first change: every serial the test sees is this plus a step.
const BASE: u64 = 1_900_000_000;

/// A zone as the set of its records' hashes (owner, type, data), the SOA left out.
type Zone = HashSet<u64>;

fn hashed(record: &Record) -> u64 {
    let mut hash = DefaultHasher::new();
    let text = format!(
        "{} {} {}",
        record.name.to_lowercase(),
        record.record_type(),
        record.data
    );
    text.hash(&mut hash);
    hash.finish()
}

/// The zone served now, by AXFR, and its serial.
fn axfr(addr: SocketAddr) -> (u32, Zone) {
    let mut message = Message::new(5, MessageType::Query, OpCode::Query);
    let apex = Name::from_ascii("ports.local.").unwrap();
    message.add_query(Query::query(apex, RecordType::AXFR));
    let mut stream = tcp_connect(addr);
    tcp_send(&mut stream, &message.to_vec().unwrap());
    let (mut zone, mut serials) = (Zone::new(), Vec::new());
    while serials.len() < 2 {
        let response = parse(&tcp_receive(&mut stream).expect("an AXFR message"));
        for record in &response.answers {
            match record.record_type() {
                RecordType::SOA => serials.extend(soa_serials(std::slice::from_ref(record))),
                _ => assert!(zone.insert(hashed(record)), "a record twice: {record}"),
            }
        }
    }
    assert_eq!(serials[0], serials[1]);
    (serials[0], zone)
}

/// `held` (the zone at `serial`) with the IXFR from `serial` applied, or `None` when portsd
/// answered with the whole zone (AXFR form).
fn applied(addr: SocketAddr, serial: u32, held: &Zone) -> Option<Zone> {
    let records = ixfr(addr, serial);
    let incremental = records.len() >= 2 && records[1].record_type() == RecordType::SOA;
    if !incremental {
        return None;
    }
    let mut zone = held.clone();
    // Each difference: SOA(from), deletions, SOA(to), additions.
    let mut deleting = false;
    for record in &records[1..records.len() - 1] {
        if record.record_type() == RecordType::SOA {
            deleting = !deleting;
            continue;
        }
        let hash = hashed(record);
        if deleting {
            assert!(zone.remove(&hash), "deleted but not held: {record}");
        } else {
            assert!(zone.insert(hash), "added but held already: {record}");
        }
    }
    Some(zone)
}

/// The data directory, every file dated [`BASE`], `local.tsv` dated `BASE + step`.
fn write_data(data: &Path, step: u64) {
    fs::write(
        data.join(LOCAL_TSV),
        format!(
            "8443\ttcp\t-\tBilling API v{step}\n{}\tudp\t-\tStep {step}\n",
            40000 + step
        ),
    )
    .unwrap();
    for entry in fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        let date = if path.ends_with(LOCAL_TSV) {
            BASE + step
        } else {
            BASE
        };
        let file = fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(date))
            .unwrap();
    }
}

/// Where strace kills portsd: a system call on one path, at its first call there.
struct KillAt {
    call: &'static str,
    path: PathBuf,
}

struct Fleet {
    data: PathBuf,
    state: PathBuf,
    /// The zone seen served at each serial.
    held: BTreeMap<u32, Zone>,
    last: u32,
}

impl Fleet {
    fn args(&self) -> Vec<String> {
        let args = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-transfer",
            "127.0.0.0/8",
            "--services",
            "none",
            "--data",
            self.data.to_str().unwrap(),
            "--state-dir",
            self.state.to_str().unwrap(),
        ];
        args.map(str::to_owned).to_vec()
    }

    fn start(&self, kill_at: Option<&KillAt>) -> Daemon {
        let portsd = env!("CARGO_BIN_EXE_portsd");
        let mut command = match kill_at {
            None => Command::new(portsd),
            Some(at) => {
                let mut strace = Command::new("strace");
                let inject = format!("inject={}:signal=KILL:when=1", at.call);
                strace
                    .args(["-f", "-qq", "-o", "/dev/null", "-P"])
                    .arg(&at.path)
                    .args(["-e", &format!("trace={}", at.call), "-e", &inject, portsd]);
                strace
            }
        };
        Daemon::start_command(command.args(self.args()))
    }

    /// Starts portsd, waits until its start-up work is done, and checks what it serves: the
    /// serial never behind one seen before, and the IXFR from every serial seen, applied to
    /// the zone seen then, the zone served.
    fn check(&mut self) {
        let daemon = self.start(None);
        assert!(daemon.wait_for_log("state directory up to date"));
        let (serial, zone) = axfr(daemon.addr);
        assert!(
            serial == self.last || portsd_newer(serial, self.last),
            "serial {serial} after {}",
            self.last
        );
        for (&old, held) in self.held.iter().filter(|(old, _)| **old != serial) {
            let now = applied(daemon.addr, old, held)
                .unwrap_or_else(|| panic!("IXFR from {old} to {serial} came as the whole zone"));
            assert!(
                now == zone,
                "IXFR from {old} applied is not the zone served at {serial}"
            );
        }
        let soa = parse(
            &udp_exchange(
                daemon.addr,
                &crate::common::query(1, "ports.local.", RecordType::SOA, None),
            )
            .unwrap(),
        );
        assert_eq!(soa_serials(&soa.answers), [serial]);
        self.held.insert(serial, zone);
        self.last = serial;
        let files: Vec<String> = fs::read_dir(self.state.join("ports.local"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files.len(), 3, "serial, journal, one zone: {files:?}");
    }

    /// Runs portsd killed by strace at `at` during a reload to data `step`.
    fn kill_in_reload(&mut self, step: u64, at: KillAt) {
        let mut daemon = self.start(Some(&at));
        assert!(daemon.wait_for_log("state directory up to date"));
        write_data(&self.data, step);
        // The signal goes to portsd, strace's child.
        let strace = daemon.child.id();
        let children =
            fs::read_to_string(format!("/proc/{strace}/task/{strace}/children")).unwrap();
        let portsd: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
        kill(Pid::from_raw(portsd), Signal::SIGHUP).unwrap();
        let status = daemon.child.wait().unwrap();
        assert!(
            !status.success(),
            "killed at {} of {}",
            at.call,
            at.path.display()
        );
    }

    /// Runs portsd on data `step`, changed while it was stopped, killed by strace at `at`
    /// during its start-up work.
    fn kill_in_start_up(&mut self, step: u64, at: KillAt) {
        write_data(&self.data, step);
        let mut daemon = self.start(Some(&at));
        let status = daemon.child.wait().unwrap();
        assert!(
            !status.success(),
            "killed at {} of {}",
            at.call,
            at.path.display()
        );
    }
}

#[test]
fn ixfr_survives_sigkill_at_every_step_of_a_reload_and_of_the_start_up_after_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (data, state) = (dir.path().join("data"), dir.path().join("state"));
    copy_data(&data);
    write_data(&data, 0);
    let mut fleet = Fleet {
        data,
        state: state.clone(),
        held: BTreeMap::new(),
        last: 0,
    };
    fleet.check();
    let serial = |step: u64| u32::try_from(BASE + step).unwrap();
    let file = |name: String| state.join("ports.local").join(name);
    // A reload: the serial recorded, the new zone kept, the journal, the old zone removed.
    let reload = [
        (1, "renameat", file("serial".into())),
        (2, "renameat", file(format!("zone.{}", serial(2)))),
        (3, "renameat", file("journal".into())),
        (4, "unlink", file(format!("zone.{}", serial(3)))),
    ];
    for (step, call, path) in reload {
        fleet.kill_in_reload(step, KillAt { call, path });
        fleet.check();
    }
    // The start-up after data changed while stopped: the zone kept, then the journal.
    let start_up = [
        (5, "renameat", file(format!("zone.{}", serial(5)))),
        (6, "renameat", file("journal".into())),
    ];
    for (step, call, path) in start_up {
        fleet.kill_in_start_up(step, KillAt { call, path });
        fleet.check();
    }
    assert_eq!(fleet.last, serial(6));
    assert!(fleet.held.len() >= 7, "{:?}", fleet.held.keys());
}
