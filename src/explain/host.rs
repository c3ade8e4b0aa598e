//! This host's listening sockets, read from `/proc` as `ss -tulpn` reads them: the socket
//! tables, then every process's descriptors the caller may see, for the process holding each.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;
use std::path::Path;

use super::proc_net::{self, Listening};
use crate::core::model::Protocol;

/// A process holding a socket.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub(crate) struct Process {
    pub(crate) pid: u32,
    /// Its name (`/proc/PID/comm`).
    pub(crate) name: String,
}

/// A listening address with the processes holding a socket on it (none when the caller may
/// not see them: another user's processes without root).
#[derive(Clone, Debug)]
pub(crate) struct Socket {
    pub(crate) protocol: Protocol,
    pub(crate) address: IpAddr,
    pub(crate) port: u16,
    pub(crate) processes: Vec<Process>,
}

/// The listening sockets under `proc` (`/proc`), one per protocol, address and port (sockets
/// sharing one through `SO_REUSEPORT` are one), sorted by protocol, port and address.
pub(crate) fn listening(proc: &Path) -> io::Result<Vec<Socket>> {
    let mut found: Vec<Listening> = Vec::new();
    for (file, protocol) in [
        ("tcp", Protocol::Tcp),
        ("tcp6", Protocol::Tcp),
        ("udp", Protocol::Udp),
        ("udp6", Protocol::Udp),
    ] {
        match std::fs::read_to_string(proc.join("net").join(file)) {
            Ok(text) => found.extend(proc_net::parse(protocol, &text)),
            // A kernel without IPv6 has no `tcp6`.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let holders = holders(proc, found.iter().map(|s| s.inode).collect());
    let mut sockets: BTreeMap<(Protocol, u16, IpAddr), Vec<Process>> = BTreeMap::new();
    for socket in found {
        let processes = sockets
            .entry((socket.protocol, socket.port, socket.address))
            .or_default();
        processes.extend(holders.get(&socket.inode).cloned().unwrap_or_default());
        processes.sort();
        processes.dedup();
    }
    Ok(sockets
        .into_iter()
        .map(|((protocol, port, address), processes)| Socket {
            protocol,
            address,
            port,
            processes,
        })
        .collect())
}

/// The processes holding each of `inodes`, from the descriptors of every process the caller
/// may read; processes that end meanwhile or may not be read are passed over.
fn holders(proc: &Path, inodes: std::collections::HashSet<u64>) -> BTreeMap<u64, Vec<Process>> {
    let mut holders: BTreeMap<u64, Vec<Process>> = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(proc) else {
        return holders;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(descriptors) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let mut name = None;
        for descriptor in descriptors.flatten() {
            let Some(inode) = std::fs::read_link(descriptor.path())
                .ok()
                .and_then(|link| proc_net::socket_inode(&link.to_string_lossy()))
                .filter(|inode| inodes.contains(inode))
            else {
                continue;
            };
            let name = name.get_or_insert_with(|| {
                std::fs::read_to_string(entry.path().join("comm"))
                    .map(|comm| comm.trim_end().to_owned())
                    .unwrap_or_default()
            });
            holders.entry(inode).or_default().push(Process {
                pid,
                name: name.clone(),
            });
        }
    }
    holders
}
