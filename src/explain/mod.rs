//! `portsd explain`: ports where people meet them, with their known uses.
//!
//! - `proc_net`: the kernel's socket tables (`/proc/net/{tcp,tcp6,udp,udp6}`) read into
//!   listening sockets; pure.
//! - `host`: this host's listening sockets and the processes holding them, read from `/proc`.
//! - `text`: the ports in pasted text (`ss`, `netstat`, `ADDR:PORT`, `[V6]:PORT`, `PORT/PROTO`,
//!   `DPT=`/`SPT=`); pure.
//!
//! Every use shown is what `portsd lookup PORT/PROTO` shows ([`present::lookup`]), so the
//! JSON objects carry the same `uses` as `lookup --json` prints.

mod host;
mod proc_net;
mod text;

use std::fmt::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use serde::Serialize;

use crate::core::model::{Protocol, Status};
use crate::core::present::{self, UseView};
use crate::core::zone::{Snapshot, Zone};

/// One listening socket as `portsd explain --json` prints it.
#[derive(Debug, Serialize)]
struct SocketView {
    protocol: &'static str,
    /// The local address, `0.0.0.0` or `::` for every address.
    address: IpAddr,
    port: u16,
    /// The processes holding the socket that the caller may see (possibly none).
    processes: Vec<host::Process>,
    /// Whether any source lists the port on this protocol.
    known: bool,
    /// The uses, as `lookup --json` prints them.
    uses: Vec<UseView>,
}

/// One port found in the text, as `portsd explain - --json` prints it.
#[derive(Debug, Serialize)]
struct MentionView {
    /// The line it is on, counted from 1.
    line: usize,
    port: u16,
    /// The protocol the line names, or null.
    protocol: Option<&'static str>,
    known: bool,
    uses: Vec<UseView>,
}

/// The uses of `port` on `protocol` (every protocol when `None`), and whether any is known.
fn uses(
    zone: &Zone,
    snapshot: &Snapshot,
    port: u16,
    protocol: Option<Protocol>,
) -> (bool, Vec<UseView>) {
    let query = match protocol {
        Some(protocol) => format!("{port}/{}", protocol.label()),
        None => port.to_string(),
    };
    // A port number in range always reads; a port nobody lists is one unassigned use.
    let views = present::lookup(zone, snapshot, &query).unwrap_or_default();
    let known = views.iter().any(|v| v.status != Status::Unassigned.word());
    (known, views)
}

/// A use in a few words: `22/tcp ssh: The Secure Shell (SSH) Protocol (+1 more)`, or
/// `40111/tcp unknown`.
fn summary(port: u16, protocol: Option<Protocol>, known: bool, views: &[UseView]) -> String {
    let on = protocol.map_or_else(String::new, |p| format!("/{}", p.label()));
    let (Some(first), true) = (views.first(), known) else {
        return format!("{port}{on} unknown");
    };
    let mut out = format!("{port}/{}", first.protocol);
    if let Some(service) = &first.service {
        let _ = write!(out, " {service}");
    }
    if !first.description.is_empty() {
        let _ = write!(out, ": {}", first.description);
    }
    if views.len() > 1 {
        let _ = write!(out, " (+{} more)", views.len() - 1);
    }
    out
}

/// This host's listening sockets (read under `proc`, normally `/proc`), each with its uses:
/// a table, or with `json` the documented JSON array.
pub fn host(zone: &Zone, snapshot: &Snapshot, proc: &Path, json: bool) -> std::io::Result<String> {
    let views: Vec<SocketView> = host::listening(proc)?
        .into_iter()
        .map(|socket| {
            let (known, uses) = uses(zone, snapshot, socket.port, Some(socket.protocol));
            SocketView {
                protocol: socket.protocol.label(),
                address: socket.address,
                port: socket.port,
                processes: socket.processes,
                known,
                uses,
            }
        })
        .collect();
    if json {
        return Ok(present::to_json(&views) + "\n");
    }
    let rows: Vec<[String; 4]> = views
        .iter()
        .map(|view| {
            let processes: Vec<String> = (view.processes.iter())
                .map(|p| format!("{}({})", p.name, p.pid))
                .collect();
            let protocol = Protocol::from_label(view.protocol.as_bytes());
            [
                view.protocol.to_owned(),
                SocketAddr::new(view.address, view.port).to_string(),
                if processes.is_empty() {
                    "-".to_owned()
                } else {
                    processes.join(",")
                },
                summary(view.port, protocol, view.known, &view.uses),
            ]
        })
        .collect();
    let header = ["Proto", "Local Address:Port", "Process", "Use"].map(str::to_owned);
    Ok(columns(std::iter::once(&header).chain(&rows)))
}

/// `text` as it was, byte for byte (text that is not UTF-8 included), each line that mentions
/// a port followed on the same line by `  # ` and the uses of the ports it mentions; or with
/// `json` the documented JSON array of the ports found.
pub fn annotate(zone: &Zone, snapshot: &Snapshot, text: &[u8], json: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    let mut found = Vec::new();
    for (number, line) in (1..).zip(text.split_inclusive(|&b| b == b'\n')) {
        // The line's end (`\n`, `\r\n` or none) is kept apart, for the uses to go before it.
        let kept = line.len()
            - line
                .iter()
                .rev()
                .take_while(|&&b| b == b'\n' || b == b'\r')
                .count();
        let (content, end) = line.split_at(kept);
        let notes: Vec<String> = text::mentions(&String::from_utf8_lossy(content))
            .into_iter()
            .map(|mention| {
                let (known, views) = uses(zone, snapshot, mention.port, mention.protocol);
                let note = summary(mention.port, mention.protocol, known, &views);
                found.push(MentionView {
                    line: number,
                    port: mention.port,
                    protocol: mention.protocol.map(Protocol::label),
                    known,
                    uses: views,
                });
                note
            })
            .collect();
        out.extend_from_slice(content);
        if !notes.is_empty() {
            out.extend_from_slice(format!("  # {}", notes.join("; ")).as_bytes());
        }
        out.extend_from_slice(end);
    }
    if json {
        (present::to_json(&found) + "\n").into_bytes()
    } else {
        out
    }
}

/// Rows as left-aligned columns two spaces apart, the last column as it is.
fn columns<'a>(rows: impl Iterator<Item = &'a [String; 4]> + Clone) -> String {
    let mut widths = [0; 3];
    for row in rows.clone() {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for [a, b, c, d] in rows {
        let _ = writeln!(
            out,
            "{a:<w0$}  {b:<w1$}  {c:<w2$}  {d}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ZoneArgs;
    use crate::sources;

    fn builtin() -> (Zone, Snapshot) {
        let (zone, _) = ZoneArgs::default().resolve_one(&[]).unwrap();
        let table = sources::load_builtin().unwrap().into_table();
        let snapshot = Snapshot::new(table, 1, &zone);
        (zone, snapshot)
    }

    #[test]
    fn annotated_text_keeps_every_line_as_it_was() {
        let (zone, snapshot) = builtin();
        let text = "Netid State  Local Address:Port Peer Address:Port\r\n\
            tcp   LISTEN 0.0.0.0:22  0.0.0.0:*\n\
            udp   UNCONN [::]:40111 [::]:*\n\
            no port here";
        let out = String::from_utf8(annotate(&zone, &snapshot, text.as_bytes(), false)).unwrap();
        let lines: Vec<&str> = out.split('\n').collect();
        assert_eq!(
            lines[0],
            "Netid State  Local Address:Port Peer Address:Port\r"
        );
        assert!(
            lines[1].starts_with("tcp   LISTEN 0.0.0.0:22  0.0.0.0:*  # 22/tcp ssh"),
            "{out}"
        );
        assert_eq!(
            lines[2],
            "udp   UNCONN [::]:40111 [::]:*  # 40111/udp unknown"
        );
        assert_eq!(lines[3], "no port here");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn text_that_is_not_utf8_passes_through_unchanged() {
        let (zone, snapshot) = builtin();
        let out = annotate(&zone, &snapshot, b"caf\xe9 0.0.0.0:22\n\xff", false);
        assert!(out.starts_with(b"caf\xe9 0.0.0.0:22  # 22/"), "{out:?}");
        assert!(out.ends_with(b"\n\xff"), "{out:?}");
    }

    #[test]
    fn a_port_without_a_protocol_is_looked_up_on_every_protocol() {
        let (zone, snapshot) = builtin();
        let out = annotate(&zone, &snapshot, b"redis at localhost:6379", false);
        let out = String::from_utf8(out).unwrap();
        assert!(
            out.starts_with("redis at localhost:6379  # 6379/tcp redis"),
            "{out}"
        );
        let json: serde_json::Value =
            serde_json::from_slice(&annotate(&zone, &snapshot, b"x DPT=53 PROTO=UDP", true))
                .unwrap();
        assert_eq!(json[0]["port"], 53);
        assert_eq!(json[0]["protocol"], "udp");
        assert_eq!(json[0]["known"], true);
        assert_eq!(json[0]["uses"][0]["protocol"], "udp");
    }

    #[test]
    fn sockets_read_from_a_proc_tree_are_explained() {
        let (zone, snapshot) = builtin();
        let proc = tempfile::tempdir().unwrap();
        std::fs::create_dir(proc.path().join("net")).unwrap();
        let header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
        let port = |p: u16| format!("{p:04X}");
        let tcp = format!(
            "{header}   0: 00000000:{} 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 4242 1\n",
            port(22)
        );
        std::fs::write(proc.path().join("net/tcp"), tcp).unwrap();
        let out = host(&zone, &snapshot, proc.path(), false).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("Proto  Local Address:Port  Process  Use"),
            "{out}"
        );
        assert!(
            lines[1].starts_with("tcp    0.0.0.0:22          -        22/tcp ssh"),
            "{out}"
        );
        assert_eq!(lines.len(), 2, "{out}");
    }
}
