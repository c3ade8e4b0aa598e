//! Binding: the UDP and TCP sockets portsd serves on, bound by portsd itself (with the socket
//! options a server needs) or taken from systemd's socket activation, the DNS over TLS
//! listeners (`--tls`, or a passed socket named `tls`), and the HTTP sockets (`--http`, the
//! deprecated `--metrics`, or a passed socket named `http`; `--https` or a passed socket named
//! `https` for HTTPS).

use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;

use tracing::debug;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A listen address could not be bound.
    #[error("cannot listen on {transport} {addr}: {reason}")]
    Bind {
        /// `udp` or `tcp`.
        transport: &'static str,
        /// The address asked for.
        addr: SocketAddr,
        /// Why (not a `source`: the message already says it, and error chains would repeat it).
        reason: io::Error,
    },
    /// Sockets passed by systemd could not be used.
    #[error("cannot use the sockets passed by the service manager: {0}")]
    Activation(io::Error),
    /// No socket to serve on.
    #[error("no socket to listen on")]
    NoSockets,
    /// DNS over TLS or HTTPS sockets without a certificate to serve them with.
    #[error("DNS over TLS and HTTPS sockets need --tls-cert and --tls-key")]
    NoCertificate,
    /// A thread (a UDP serving thread, or the one computing the zone's digest) could not be
    /// started.
    #[error("cannot start the {0} thread: {1}")]
    Thread(&'static str, io::Error),
}

/// What portsd asks the kernel for as each UDP socket's receive and send buffer (Linux then
/// reports and uses twice the figure), as NSD does. The usual default, 212,992 bytes, holds only
/// about two hundred small queries: when the serving thread loses its CPU for 10 ms (a
/// hypervisor's steal, a busy neighbour) at 20,000 queries a second, the kernel would drop the
/// rest. Requested with `SO_RCVBUFFORCE`/`SO_SNDBUFFORCE` when the process may (CAP_NET_ADMIN),
/// else capped by `net.core.rmem_max`/`wmem_max`.
pub(crate) const UDP_BUFFER_BYTES: usize = 1 << 20;

/// Raises `socket`'s buffers towards [`UDP_BUFFER_BYTES`]; a larger buffer (a systemd socket
/// unit's `ReceiveBuffer=`) is kept. Best effort: where the kernel refuses, its size stays.
fn enlarge_udp_buffers(socket: &std::net::UdpSocket) {
    use nix::sys::socket::{setsockopt, sockopt};
    let handle = socket2::SockRef::from(socket);
    // The kernel reports the doubled size it actually reserves.
    let too_small = |size: io::Result<usize>| size.is_ok_and(|size| size < 2 * UDP_BUFFER_BYTES);
    if too_small(handle.recv_buffer_size())
        && setsockopt(socket, sockopt::RcvBufForce, &UDP_BUFFER_BYTES).is_err()
    {
        let _ = handle.set_recv_buffer_size(UDP_BUFFER_BYTES);
    }
    if too_small(handle.send_buffer_size())
        && setsockopt(socket, sockopt::SndBufForce, &UDP_BUFFER_BYTES).is_err()
    {
        let _ = handle.set_send_buffer_size(UDP_BUFFER_BYTES);
    }
    debug!(
        addr = ?socket.local_addr().ok(),
        receive_buffer = handle.recv_buffer_size().ok(),
        send_buffer = handle.send_buffer_size().ok(),
        "udp socket buffers"
    );
}

/// Binds a UDP socket at `addr`, sharing the port with sockets of the same process that also
/// ask for `SO_REUSEPORT` when `shared` is set.
fn bind_udp(addr: SocketAddr, shared: bool) -> Result<std::net::UdpSocket, ServerError> {
    use socket2::{Domain, Socket, Type};
    let bind_error = |reason| ServerError::Bind {
        transport: "udp",
        addr,
        reason,
    };
    let udp = Socket::new(Domain::for_address(addr), Type::DGRAM, None).map_err(bind_error)?;
    if addr.is_ipv6() {
        udp.set_only_v6(true).map_err(bind_error)?;
    }
    if shared {
        udp.set_reuse_port(true).map_err(bind_error)?;
    }
    udp.bind(&addr.into()).map_err(bind_error)?;
    udp.set_nonblocking(true).map_err(bind_error)?;
    let udp = std::net::UdpSocket::from(udp);
    enlarge_udp_buffers(&udp);
    Ok(udp)
}

/// A listening TCP socket at `addr`, for the `transport` named in errors.
fn bind_stream(addr: SocketAddr, transport: &'static str) -> Result<socket2::Socket, ServerError> {
    use socket2::{Domain, Socket, Type};
    let bind_error = |reason| ServerError::Bind {
        transport,
        addr,
        reason,
    };
    let tcp = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(bind_error)?;
    if addr.is_ipv6() {
        tcp.set_only_v6(true).map_err(bind_error)?;
    }
    tcp.set_reuse_address(true).map_err(bind_error)?;
    tcp.bind(&addr.into()).map_err(bind_error)?;
    tcp.listen(1024).map_err(bind_error)?;
    tcp.set_nonblocking(true).map_err(bind_error)?;
    Ok(tcp)
}

/// Binds UDP, then TCP on the same port, at `addr`.
fn bind_pair(
    addr: SocketAddr,
) -> Result<(std::net::UdpSocket, std::net::TcpListener), ServerError> {
    let udp = bind_udp(addr, false)?;
    let bound = udp.local_addr().unwrap_or(addr);
    let tcp = bind_stream(bound, "tcp")?;
    Ok((udp, tcp.into()))
}

/// The name (`FileDescriptorName=`) of a passed socket that serves DNS over TLS.
const TLS_SOCKET_NAME: &str = "tls";

/// The sockets portsd serves on.
#[derive(Debug, Default)]
pub struct Listeners {
    /// UDP sockets, served by the thread that runs [`Server::run`](super::Server::run).
    pub udp: Vec<std::net::UdpSocket>,
    /// The UDP sockets of each further serving thread. Bound by portsd: for every address,
    /// another socket on the same port (`SO_REUSEPORT`), among which the kernel spreads the
    /// clients. Passed by systemd: a share of the passed sockets.
    pub(crate) udp_threads: Vec<Vec<std::net::UdpSocket>>,
    /// TCP listening sockets.
    pub(crate) tcp: Vec<std::net::TcpListener>,
    /// DNS over TLS listening sockets.
    pub(crate) tls: Vec<std::net::TcpListener>,
    /// HTTP listening sockets (`--http`, or passed by systemd with the name `http`).
    pub(crate) http: Vec<std::net::TcpListener>,
    /// The HTTP socket `--metrics` (deprecated) asks for.
    pub(crate) metrics: Option<std::net::TcpListener>,
    /// HTTPS listening sockets (`--https`, or passed by systemd with the name `https`).
    pub(crate) https: Vec<std::net::TcpListener>,
}

impl Listeners {
    /// Every address served, as `udp 127.0.0.1:5300`, `tcp ...`, `dot ...`, `http ...`,
    /// `https ...`: what the start-up line lists.
    pub(crate) fn addresses(&self) -> Vec<String> {
        let udp = (self.udp.iter().chain(self.udp_threads.iter().flatten()))
            .filter_map(|socket| socket.local_addr().ok())
            .map(|addr| ("udp", addr));
        let streams = [
            ("tcp", &self.tcp),
            ("dot", &self.tls),
            ("http", &self.http),
            ("https", &self.https),
        ]
        .into_iter()
        .flat_map(|(name, sockets)| sockets.iter().map(move |socket| (name, socket)))
        .chain(self.metrics.iter().map(|socket| ("http", socket)))
        .filter_map(|(name, socket)| Some((name, socket.local_addr().ok()?)));
        let mut addresses: Vec<String> = Vec::new();
        for (name, addr) in udp.chain(streams) {
            let shown = format!("{name} {addr}");
            if !addresses.contains(&shown) {
                addresses.push(shown);
            }
        }
        addresses
    }
}

/// The name (`FileDescriptorName=` in a socket unit) of passed sockets that serve HTTP.
pub(crate) const HTTP_SOCKET_NAME: &str = "http";
/// The name of passed sockets that serve HTTPS.
const HTTPS_SOCKET_NAME: &str = "https";

/// Binds one HTTP listening socket at `addr`; `what` names it in errors.
fn bind_http_socket(
    addr: SocketAddr,
    what: &'static str,
) -> Result<std::net::TcpListener, ServerError> {
    let bind_error = |reason| ServerError::Bind {
        transport: what,
        addr,
        reason,
    };
    let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
    listener.set_nonblocking(true).map_err(bind_error)?;
    Ok(listener)
}

impl Listeners {
    /// Binds UDP and TCP on each address, with `udp_threads` UDP sockets per address, one for
    /// each thread that will answer UDP.
    pub fn bind(addrs: &[SocketAddr], udp_threads: NonZeroUsize) -> Result<Listeners, ServerError> {
        let shared_udp = udp_threads.get() > 1;
        let mut listeners = Listeners {
            udp_threads: (1..udp_threads.get()).map(|_| Vec::new()).collect(),
            ..Listeners::default()
        };
        for &addr in addrs {
            // With port 0 the kernel picks the UDP port and TCP takes the same one; if another
            // program holds that port for TCP, pick again (a few times) rather than fail.
            let attempts = if addr.port() == 0 { 8 } else { 1 };
            let mut outcome = bind_pair(addr);
            for _ in 1..attempts {
                match &outcome {
                    Err(ServerError::Bind {
                        transport: "tcp",
                        reason,
                        ..
                    }) if reason.kind() == io::ErrorKind::AddrInUse => {
                        outcome = bind_pair(addr);
                    }
                    _ => break,
                }
            }
            let (udp, tcp) = outcome?;
            let bound = udp.local_addr().unwrap_or(addr);
            // The first socket is bound without `SO_REUSEPORT` and opened to sharing only now:
            // for port 0, the kernel would otherwise count a port that another program of the
            // same user shares as free, and put this socket into that program's group.
            if shared_udp {
                socket2::SockRef::from(&udp)
                    .set_reuse_port(true)
                    .map_err(|reason| ServerError::Bind {
                        transport: "udp",
                        addr,
                        reason,
                    })?;
            }
            for sockets in &mut listeners.udp_threads {
                sockets.push(bind_udp(bound, true)?);
            }
            listeners.udp.push(udp);
            listeners.tcp.push(tcp);
        }
        Ok(listeners)
    }

    /// Binds a DNS over TLS listener at each of `addrs`.
    pub fn bind_tls(&mut self, addrs: &[SocketAddr]) -> Result<(), ServerError> {
        for &addr in addrs {
            self.tls.push(bind_stream(addr, "dot")?.into());
        }
        Ok(())
    }

    /// Binds an HTTP socket for `--http`; returns the address bound (port 0 picks one).
    pub fn bind_http(&mut self, addr: SocketAddr) -> Result<SocketAddr, ServerError> {
        let listener = bind_http_socket(addr, "tcp (http)")?;
        let bound = listener.local_addr().unwrap_or(addr);
        self.http.push(listener);
        Ok(bound)
    }

    /// Binds an HTTPS socket for `--https`; returns the address bound (port 0 picks one).
    pub fn bind_https(&mut self, addr: SocketAddr) -> Result<SocketAddr, ServerError> {
        let listener = bind_http_socket(addr, "tcp (https)")?;
        let bound = listener.local_addr().unwrap_or(addr);
        self.https.push(listener);
        Ok(bound)
    }

    /// Binds the HTTP socket of the deprecated `--metrics`.
    pub fn bind_metrics(&mut self, addr: SocketAddr) -> Result<(), ServerError> {
        self.metrics = Some(bind_http_socket(addr, "tcp (metrics)")?);
        Ok(())
    }

    /// Takes the sockets systemd passed (`LISTEN_FDS`), if any: stream sockets named `http`
    /// (`LISTEN_FDNAMES`) serve HTTP, `https` HTTPS, those named `tls`
    /// (`FileDescriptorName=tls`) DNS over TLS, other stream sockets become DNS TCP listeners
    /// and
    /// datagram sockets UDP sockets, dealt in turn to up to `udp_threads`
    /// threads. Each passed UDP socket gets one thread: portsd cannot bind further sockets into
    /// a port systemd bound (the kernel keeps `SO_REUSEPORT` groups to one user), and threads
    /// sharing one socket would all wake for every datagram.
    pub fn from_service_manager(
        udp_threads: NonZeroUsize,
    ) -> Result<Option<Listeners>, ServerError> {
        // systemd names the passed sockets in `LISTEN_FDNAMES`, colon-separated, in order.
        let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
        let names: Vec<&str> = names.split(':').collect();
        let mut fds = listenfd::ListenFd::from_env();
        if fds.len() == 0 {
            return Ok(None);
        }
        let mut listeners = Listeners::default();
        let mut passed_udp = 0;
        for i in 0..fds.len() {
            if let Ok(Some(tcp)) = fds.take_tcp_listener(i) {
                tcp.set_nonblocking(true).map_err(ServerError::Activation)?;
                let serving = match names.get(i).copied() {
                    Some(HTTP_SOCKET_NAME) => &mut listeners.http,
                    Some(HTTPS_SOCKET_NAME) => &mut listeners.https,
                    Some(TLS_SOCKET_NAME) => &mut listeners.tls,
                    _ => &mut listeners.tcp,
                };
                serving.push(tcp);
            } else if let Some(udp) = fds.take_udp_socket(i).map_err(ServerError::Activation)? {
                udp.set_nonblocking(true).map_err(ServerError::Activation)?;
                enlarge_udp_buffers(&udp);
                match passed_udp % udp_threads.get() {
                    0 => listeners.udp.push(udp),
                    thread => {
                        if listeners.udp_threads.len() < thread {
                            listeners.udp_threads.push(Vec::new());
                        }
                        listeners.udp_threads[thread - 1].push(udp);
                    }
                }
                passed_udp += 1;
            }
        }
        Ok(Some(listeners))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a bound socket's buffers must at least be: all of [`UDP_BUFFER_BYTES`] (reported
    /// doubled) where the process may force sizes, else as much as `net.core.{limit}` allows.
    /// Fails rather than expect nothing when neither would show the enlargement, so the check
    /// below cannot pass on a socket left at the kernel's default.
    fn expected_buffer(limit: &str, default: &str) -> usize {
        use nix::sys::socket::{setsockopt, sockopt};
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind port 0");
        if setsockopt(&probe, sockopt::RcvBufForce, &UDP_BUFFER_BYTES).is_ok() {
            return 2 * UDP_BUFFER_BYTES;
        }
        let read = |name: &str| -> usize {
            let path = format!("/proc/sys/net/core/{name}");
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            text.trim().parse().expect("a number")
        };
        let allowed = UDP_BUFFER_BYTES.min(read(limit));
        assert!(
            allowed > read(default),
            "without CAP_NET_ADMIN and with {limit} at the default, nothing can be shown"
        );
        2 * allowed
    }

    #[test]
    fn bound_udp_sockets_get_large_buffers() {
        let listeners = Listeners::bind(
            &["127.0.0.1:0".parse().expect("an address")],
            NonZeroUsize::MIN,
        )
        .expect("bind port 0");
        let socket = socket2::SockRef::from(&listeners.udp[0]);
        let receive = socket.recv_buffer_size().expect("SO_RCVBUF");
        let send = socket.send_buffer_size().expect("SO_SNDBUF");
        assert!(
            receive >= expected_buffer("rmem_max", "rmem_default"),
            "{receive}"
        );
        assert!(
            send >= expected_buffer("wmem_max", "wmem_default"),
            "{send}"
        );
    }

    /// With several UDP threads, every thread has a socket on every bound port, and those
    /// sockets share the port; with one, the port is not shared.
    #[test]
    fn each_further_udp_thread_gets_a_socket_on_every_port() {
        let loopback: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        let three = NonZeroUsize::new(3).expect("not zero");
        let listeners = Listeners::bind(&[loopback, loopback], three).expect("bind port 0");
        let ports: Vec<SocketAddr> = listeners
            .udp
            .iter()
            .map(|socket| socket.local_addr().expect("bound"))
            .collect();
        assert_eq!(ports.len(), 2);
        assert_ne!(ports[0], ports[1]);
        assert_eq!(
            listeners.udp_threads.len(),
            2,
            "the calling thread has the first"
        );
        for sockets in listeners.udp_threads.iter() {
            let bound: Vec<SocketAddr> = sockets
                .iter()
                .map(|socket| socket.local_addr().expect("bound"))
                .collect();
            assert_eq!(bound, ports);
            for socket in sockets {
                assert!(
                    socket2::SockRef::from(socket)
                        .reuse_port()
                        .expect("SO_REUSEPORT")
                );
            }
        }
        let single = Listeners::bind(&[loopback], NonZeroUsize::MIN).expect("bind port 0");
        assert!(single.udp_threads.is_empty());
        let shared = socket2::SockRef::from(&single.udp[0]).reuse_port();
        assert!(
            !shared.expect("SO_REUSEPORT"),
            "one thread keeps the port to itself"
        );
    }

    /// A socket that already has a larger buffer (a systemd socket unit's `ReceiveBuffer=`)
    /// keeps it. Setting that buffer needs `SO_RCVBUFFORCE` (CAP_NET_ADMIN): without it the
    /// kernel's cap would make before and after equal whatever portsd does.
    #[test]
    fn larger_udp_buffers_are_kept() {
        use nix::sys::socket::{setsockopt, sockopt};
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind port 0");
        let handle = socket2::SockRef::from(&socket);
        let larger = 2 * UDP_BUFFER_BYTES;
        setsockopt(&socket, sockopt::RcvBufForce, &larger)
            .expect("SO_RCVBUFFORCE: this test needs CAP_NET_ADMIN (run as root)");
        let before = handle.recv_buffer_size().expect("SO_RCVBUF");
        assert_eq!(before, 2 * larger, "the kernel reports the doubled size");
        enlarge_udp_buffers(&socket);
        assert_eq!(handle.recv_buffer_size().expect("SO_RCVBUF"), before);
    }
}
