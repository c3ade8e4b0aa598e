//! External DNS servers the tests start (NSD, Knot, BIND): each in its own process group on a
//! free loopback port, logging to a file, stopped with its children when dropped.

use std::fs;
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::common::{free_loopback_port, query};

/// How long a started server may take to answer anything at all.
const LISTEN_DEADLINE: Duration = Duration::from_secs(20);
/// Ports tried per server before giving up, when the one picked was taken meanwhile.
const PORT_ATTEMPTS: usize = 3;

/// A program from a Debian package; daemons live in /usr/sbin, which a non-root PATH may lack.
pub(crate) fn program(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from(name)
    }
}

/// An external server in its own process group, logging to a file. Dropping it stops the whole
/// group (NSD forks), SIGTERM first, SIGKILL for whatever is left after a few seconds.
pub(crate) struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    pub(crate) fn spawn(name: &str, command: &mut Command, log: PathBuf) -> Process {
        let out = fs::File::create(&log).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({e}): run .ci/setup"));
        Process {
            name: name.to_owned(),
            child,
            log,
        }
    }

    pub(crate) fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(crate) fn group(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).expect("a pid fits an i32"))
    }

    /// Whether the process has ended.
    pub(crate) fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = killpg(self.group(), Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.exited() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = killpg(self.group(), Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Why a server did not come up on the port it was given.
pub(crate) enum StartFailure {
    /// The port was taken meanwhile: try another.
    PortTaken,
    Other(String),
}

/// Waits until `process` answers anything on `addr`. A log line saying the address is in use,
/// or the process ending, means the port was taken by someone else.
pub(crate) fn wait_listening(process: &mut Process, addr: SocketAddr) -> Result<(), StartFailure> {
    let probe = query(1, ".", RecordType::SOA, None);
    let deadline = Instant::now() + LISTEN_DEADLINE;
    loop {
        let log = process.log_text().to_lowercase();
        if log.contains("in use") {
            return Err(StartFailure::PortTaken);
        }
        if process.exited() {
            return Err(StartFailure::Other(format!(
                "{} exited: {log}",
                process.name
            )));
        }
        if udp_exchange_quick(addr, &probe).is_some() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(StartFailure::Other(format!(
                "{} not answering on {addr} after {LISTEN_DEADLINE:?}: {log}",
                process.name
            )));
        }
    }
}

/// One UDP query that waits at most 100 ms, for polling.
pub(crate) fn udp_exchange_quick(addr: SocketAddr, packet: &[u8]) -> Option<Vec<u8>> {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    socket.send_to(packet, addr).ok()?;
    let mut buf = vec![0u8; 4096];
    let (len, _) = socket.recv_from(&mut buf).ok()?;
    Some(buf[..len].to_vec())
}

/// Starts a server with `start(port)` on `first` (or a free port), retrying on another free
/// port when it was taken.
pub(crate) fn on_free_port(
    name: &str,
    mut first: Option<u16>,
    mut start: impl FnMut(u16) -> Process,
) -> (Process, SocketAddr) {
    let mut last = String::new();
    for _ in 0..PORT_ATTEMPTS {
        let port = first.take().unwrap_or_else(free_loopback_port);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut process = start(addr.port());
        match wait_listening(&mut process, addr) {
            Ok(()) => return (process, addr),
            Err(StartFailure::PortTaken) => last = process.log_text(),
            Err(StartFailure::Other(why)) => panic!("{why}"),
        }
    }
    panic!("{name}: every port tried was taken; last log: {last}");
}

/// NSD's `server:` section for a test instance: loopback, its files under `dir`, no chroot, no
/// user switch, no remote control, and the lines of `server` (each indented two spaces and
/// ending in a newline); `zones` follows it.
pub(crate) fn nsd_server_config(dir: &Path, port: u16, server: &str, zones: &str) -> String {
    let d = dir.display();
    format!(
        "server:\n  ip-address: 127.0.0.1\n  port: {port}\n  username: \"\"\n  chroot: \"\"\n\
         \x20 zonesdir: \"{d}\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n\
         \x20 xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n\
         \x20 verbosity: 2\n{server}remote-control:\n  control-enable: no\n{zones}"
    )
}

/// Starts Knot on a free loopback port with its files under `dir`: `server` holds extra lines
/// of the `server:` section (each indented four spaces and ending in a newline), `sections`
/// the rest of the configuration (modules, templates, zones).
pub(crate) fn start_knot(dir: &Path, server: &str, sections: &str) -> (Process, SocketAddr) {
    on_free_port("knot", None, |port| {
        let run = dir.join(format!("knot-{port}"));
        fs::create_dir_all(&run).unwrap();
        let d = run.display();
        let config = format!(
            "server:\n    rundir: \"{d}\"\n    listen: 127.0.0.1@{port}\n{server}\
             database:\n    storage: \"{d}\"\n\
             log:\n  - target: stderr\n    any: info\n{sections}"
        );
        let path = run.join("knot.conf");
        fs::write(&path, config).unwrap();
        Process::spawn(
            "knot",
            Command::new(program("knotd")).arg("-c").arg(&path),
            dir.join(format!("knot-{port}.log")),
        )
    })
}
