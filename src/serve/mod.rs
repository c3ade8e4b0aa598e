//! Sockets and lifecycle: binding (or taking sockets from systemd), the UDP and TCP serving
//! loops, the threads that answer UDP, reload on SIGHUP, graceful stop on SIGTERM/SIGINT, and
//! readiness notifications.
//!
//! UDP packets take the fast path ([`crate::pipeline::fast`]) when they are plain queries and the general
//! hickory path ([`crate::pipeline::general`]) otherwise. TCP always takes the general path, with
//! RFC 1035 length framing, several queries per connection (RFC 7766), an idle timeout, a cap
//! on queries per connection and a cap on concurrent connections. hickory-server's own `Server`
//! loop is not used: it spawns a task and crosses a channel for every UDP request (measured at
//! about 0.63x NSD's throughput here) and has no connection cap.

pub mod batch;
pub mod watch;

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, MessageType, ResponseCode};
use hickory_server::proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::server::{Request, RequestHandler};
use hickory_server::zone_handler::{MessageResponseBuilder, Queries};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, error, info, warn};

use crate::core::answer::{self, Snapshot};
use crate::core::table::Table;
use crate::metrics::{Metrics, Transport};
use crate::pipeline::acl::AccessList;
use crate::pipeline::fast as wire;
use crate::pipeline::general::{EncodedReply, PortsHandler, Shared};
use crate::pipeline::rrl::{RateLimitConfig, RateLimiter, Verdict};
use crate::serve::batch::{BATCH, Batch};
use crate::sources::{self, DataErrors, LoadedData};
use watch::DataWatcher;

/// How long a stop waits for queries in flight (systemd's and the budget is 5 s).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// How long a stopping server still waits for the next query on an open TCP connection.
const IN_FLIGHT_GRACE: Duration = Duration::from_millis(100);

/// Where the table comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataLocation {
    /// The data compiled into the binary.
    Builtin,
    /// A directory holding the data files.
    Dir(PathBuf),
}

impl DataLocation {
    /// Reads and merges every source.
    pub fn load(&self) -> Result<LoadedData, DataErrors> {
        match self {
            DataLocation::Builtin => sources::load_builtin(),
            DataLocation::Dir(dir) => sources::load_dir(dir),
        }
    }
}

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
    /// A UDP serving thread could not be started.
    #[error("cannot start a UDP thread: {0}")]
    Thread(io::Error),
}

/// Limits on TCP clients.
#[derive(Clone, Copy, Debug)]
pub struct TcpLimits {
    /// Most connections served at once; further ones wait in the kernel's backlog.
    pub max_connections: usize,
    /// A connection with no complete query for this long is closed.
    pub idle_timeout: Duration,
    /// A connection is closed after answering this many queries; 0 means no limit (NSD's
    /// default too: idle timeout and the connection cap bound what a client can hold).
    pub max_queries: usize,
}

impl Default for TcpLimits {
    fn default() -> TcpLimits {
        TcpLimits {
            max_connections: 256,
            idle_timeout: Duration::from_secs(10),
            max_queries: 0,
        }
    }
}

/// What portsd asks the kernel for as each UDP socket's receive and send buffer (Linux then
/// reports and uses twice the figure), as NSD does. The usual default, 212,992 bytes, holds only
/// about two hundred small queries: when the serving thread loses its CPU for 10 ms (a
/// hypervisor's steal, a busy neighbour) at 20,000 queries a second, the kernel would drop the
/// rest. Requested with `SO_RCVBUFFORCE`/`SO_SNDBUFFORCE` when the process may (CAP_NET_ADMIN),
/// else capped by `net.core.rmem_max`/`wmem_max`.
pub const UDP_BUFFER_BYTES: usize = 1 << 20;

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

/// Binds UDP, then TCP on the same port, at `addr`.
fn bind_pair(
    addr: SocketAddr,
) -> Result<(std::net::UdpSocket, std::net::TcpListener), ServerError> {
    use socket2::{Domain, Socket, Type};
    let udp = bind_udp(addr, false)?;
    let bound = udp.local_addr().unwrap_or(addr);
    let bind_error = |reason| ServerError::Bind {
        transport: "tcp",
        addr,
        reason,
    };
    let tcp = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(bind_error)?;
    if addr.is_ipv6() {
        tcp.set_only_v6(true).map_err(bind_error)?;
    }
    tcp.set_reuse_address(true).map_err(bind_error)?;
    tcp.bind(&bound.into()).map_err(bind_error)?;
    tcp.listen(1024).map_err(bind_error)?;
    tcp.set_nonblocking(true).map_err(bind_error)?;
    Ok((udp, tcp.into()))
}

/// The sockets portsd serves on.
#[derive(Debug, Default)]
pub struct Listeners {
    /// UDP sockets, served by the thread that runs [`Server::run`].
    pub udp: Vec<std::net::UdpSocket>,
    /// The UDP sockets of each further serving thread. Bound by portsd: for every address,
    /// another socket on the same port (`SO_REUSEPORT`), among which the kernel spreads the
    /// clients. Passed by systemd: a share of the passed sockets.
    pub udp_threads: Vec<Vec<std::net::UdpSocket>>,
    /// TCP listening sockets.
    pub tcp: Vec<std::net::TcpListener>,
    /// The Prometheus endpoint's socket, when `--metrics` asks for one.
    pub metrics: Option<std::net::TcpListener>,
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

    /// Binds the Prometheus endpoint's TCP socket.
    pub fn bind_metrics(&mut self, addr: SocketAddr) -> Result<(), ServerError> {
        let bind_error = |reason| ServerError::Bind {
            transport: "tcp (metrics)",
            addr,
            reason,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(bind_error)?;
        listener.set_nonblocking(true).map_err(bind_error)?;
        self.metrics = Some(listener);
        Ok(())
    }

    /// Takes the sockets systemd passed (`LISTEN_FDS`), if any: stream sockets become TCP
    /// listeners and datagram sockets UDP sockets, dealt in turn to up to `udp_threads`
    /// threads. Each passed UDP socket gets one thread: portsd cannot bind further sockets into
    /// a port systemd bound (the kernel keeps `SO_REUSEPORT` groups to one user), and threads
    /// sharing one socket would all wake for every datagram.
    pub fn from_service_manager(
        udp_threads: NonZeroUsize,
    ) -> Result<Option<Listeners>, ServerError> {
        let mut fds = listenfd::ListenFd::from_env();
        if fds.len() == 0 {
            return Ok(None);
        }
        let mut listeners = Listeners::default();
        let mut passed_udp = 0;
        for i in 0..fds.len() {
            if let Ok(Some(tcp)) = fds.take_tcp_listener(i) {
                tcp.set_nonblocking(true).map_err(ServerError::Activation)?;
                listeners.tcp.push(tcp);
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

/// How the server runs: everything but the sockets and the table.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where reloads read the table from.
    pub data: DataLocation,
    /// The system's services database reloads read, if any.
    pub services: Option<sources::ServicesFile>,
    /// TCP limits.
    pub tcp: TcpLimits,
    /// Log one line per query at INFO.
    pub log_queries: bool,
    /// Who may query: refused UDP clients get silence, refused TCP clients REFUSED.
    pub access: AccessList,
    /// Response rate limiting of UDP answers.
    pub rate_limit: RateLimitConfig,
}

/// Networks exempt from rate limiting unless `--rate-limit-exempt` says otherwise: loopback,
/// since the kernel drops packets from outside that claim a loopback source, so answers to it
/// cannot be reflected at anyone, and a resolver on the same host must not be throttled.
pub fn default_rate_limit_exempt() -> Vec<ipnet::IpNet> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .filter_map(|net| net.parse().ok())
        .collect()
}

impl Settings {
    /// The defaults: no access list, rate limiting on with loopback exempt, default TCP limits.
    pub fn new(data: DataLocation) -> Settings {
        Settings {
            data,
            services: None,
            tcp: TcpLimits::default(),
            log_queries: false,
            access: AccessList::default(),
            rate_limit: RateLimitConfig {
                exempt: default_rate_limit_exempt(),
                ..RateLimitConfig::default()
            },
        }
    }
}

/// Registers a UDP socket with the runtime for `interest` only (`tokio::net::UdpSocket`
/// always asks for both directions).
///
/// tokio deprecates this safe constructor because a generic `AsRawFd` value could later hand
/// back another descriptor than the one registered; a `std::net::UdpSocket` owned by the
/// `AsyncFd` always returns the descriptor it was created with and is closed only when the
/// `AsyncFd` drops it, which is what the unsafe replacement asks its callers to promise.
#[allow(deprecated)]
fn register_udp(
    socket: std::net::UdpSocket,
    interest: Interest,
) -> io::Result<AsyncFd<std::net::UdpSocket>> {
    AsyncFd::with_interest(socket, interest)
}

/// Waits until `socket` can take another datagram. The socket's main registration is for
/// reading only, so this registers a duplicate of it for writing just for the wait: a full send
/// buffer is rare, and the registration ends with it.
async fn wait_writable(socket: &std::net::UdpSocket) -> io::Result<()> {
    let duplicate = register_udp(socket.try_clone()?, Interest::WRITABLE)?;
    duplicate.writable().await?.retain_ready();
    Ok(())
}

/// The serial for a table with `hash`, given the serial and hash of the table it replaces.
/// Unchanged data keeps its serial; changed data gets a larger one, at least the current Unix
/// time so that restarts also move forward.
pub fn next_serial(previous: Option<(u32, u64)>, hash: u64, now: SystemTime) -> u32 {
    let clock = now
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    match previous {
        Some((serial, old)) if old == hash => serial,
        Some((serial, _)) => clock.max(serial.wrapping_add(1)),
        None => clock,
    }
}

/// The running server's shared pieces.
#[derive(Clone)]
pub struct Server {
    shared: Arc<Shared>,
    handler: PortsHandler,
    settings: Arc<Settings>,
    limiter: Arc<RateLimiter>,
    metrics: Arc<Metrics>,
}

impl Server {
    /// A server for `zone` answering from `table`.
    pub fn new(zone: answer::Zone, table: Table, settings: Settings) -> Server {
        let serial = next_serial(None, table.content_hash(), SystemTime::now());
        let snapshot = Snapshot::new(table, serial, &zone);
        let metrics = Arc::new(Metrics::new());
        metrics.table_loaded(&snapshot, false);
        let shared = Arc::new(Shared {
            zone,
            snapshot: arc_swap::ArcSwap::from_pointee(snapshot),
        });
        Server {
            handler: PortsHandler::new(shared.clone()),
            shared,
            limiter: Arc::new(RateLimiter::new(settings.rate_limit.clone())),
            settings: Arc::new(settings),
            metrics,
        }
    }

    /// The counters behind `/metrics`.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The shared state (zone and current snapshot).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Re-reads the data, builds the new table aside and swaps it in. On error the current
    /// table keeps serving. Returns the serial now served.
    pub fn reload(&self) -> Result<u32, DataErrors> {
        let loaded = self
            .settings
            .data
            .load()
            .and_then(|loaded| loaded.with_services(self.settings.services.as_ref()))
            .inspect_err(|_| self.metrics.reload_failed())?;
        let table = Table::with_port_names(loaded.entries, &loaded.system_names);
        let current = self.shared.snapshot.load();
        let serial = next_serial(
            Some((current.serial, current.table.content_hash())),
            table.content_hash(),
            SystemTime::now(),
        );
        let snapshot = Snapshot::new(table, serial, &self.shared.zone);
        self.metrics.table_loaded(&snapshot, true);
        self.shared.snapshot.store(Arc::new(snapshot));
        Ok(serial)
    }

    /// Serves on `listeners` until `shutdown` completes, then stops accepting, finishes what is
    /// in flight and returns.
    pub async fn run(
        &self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ServerError> {
        if listeners.udp.is_empty() && listeners.tcp.is_empty() {
            return Err(ServerError::NoSockets);
        }
        let stop = CancellationToken::new();
        // Whichever way this returns, the UDP threads started so far stop too.
        let _stop_on_return = stop.clone().drop_guard();
        let mut tasks = tokio::task::JoinSet::new();
        if !listeners.udp_threads.is_empty() {
            info!(
                "answering udp on {} threads",
                listeners.udp_threads.len() + 1
            );
        }
        for (number, sockets) in (1..).zip(listeners.udp_threads) {
            let finished = self.start_udp_thread(number, sockets, &stop).await?;
            tasks.spawn(async move {
                // Resolves (with an error) when the thread drops its end, as it ends.
                let _ = finished.await;
            });
        }
        for socket in listeners.udp {
            // Registered for reading only; see `serve_udp`.
            let socket =
                register_udp(socket, Interest::READABLE).map_err(ServerError::Activation)?;
            if let Ok(addr) = socket.get_ref().local_addr() {
                info!("listening on udp {addr}");
            }
            tasks.spawn(self.clone().serve_udp(socket, stop.clone()));
        }
        if let Some(listener) = listeners.metrics {
            let listener = TcpListener::from_std(listener).map_err(ServerError::Activation)?;
            let metrics = self.metrics.clone();
            let stop = stop.clone();
            tasks.spawn(async move {
                tokio::select! {
                    () = crate::metrics::serve(listener, metrics) => {}
                    () = stop.cancelled() => {}
                }
            });
        }
        for listener in listeners.tcp {
            let listener = TcpListener::from_std(listener).map_err(ServerError::Activation)?;
            if let Ok(addr) = listener.local_addr() {
                info!("listening on tcp {addr}");
            }
            tasks.spawn(self.clone().serve_tcp(listener, stop.clone()));
        }
        shutdown.await;
        info!("stopping");
        stop.cancel();
        // Loops finish the batch or query in hand; a client that stops reading cannot hold the
        // exit back for longer than this.
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            warn!("connections still open after {SHUTDOWN_GRACE:?}; closing them");
            tasks.abort_all();
        }
        Ok(())
    }

    /// Starts thread `number` of those answering UDP: it runs its own single-threaded runtime
    /// and serves `sockets` there until `stop`. Returns once the sockets are registered with
    /// that runtime; the receiver returned completes when the thread has finished.
    async fn start_udp_thread(
        &self,
        number: usize,
        sockets: Vec<std::net::UdpSocket>,
        stop: &CancellationToken,
    ) -> Result<oneshot::Receiver<()>, ServerError> {
        let (started, started_receiver) = oneshot::channel();
        let (finished, finished_receiver) = oneshot::channel::<()>();
        let server = self.clone();
        let stop = stop.clone();
        // The runtime is built on the thread: one dropped inside `run` (an async context), as a
        // failed spawn would, panics.
        let serve = move || {
            let _finished = finished;
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = started.send(Err(error));
                    return;
                }
            };
            runtime.block_on(async move {
                let registered: io::Result<Vec<_>> = sockets
                    .into_iter()
                    .map(|socket| {
                        if let Ok(addr) = socket.local_addr() {
                            debug!("udp thread {number} serves {addr}");
                        }
                        register_udp(socket, Interest::READABLE)
                    })
                    .collect();
                let sockets = match registered {
                    Ok(sockets) => sockets,
                    Err(error) => {
                        let _ = started.send(Err(error));
                        return;
                    }
                };
                let _ = started.send(Ok(()));
                let mut loops = tokio::task::JoinSet::new();
                for socket in sockets {
                    loops.spawn(server.clone().serve_udp(socket, stop.clone()));
                }
                while let Some(ended) = loops.join_next().await {
                    if let Err(failure) = ended {
                        error!("udp thread {number}: a serving loop failed: {failure}");
                    }
                }
            });
        };
        std::thread::Builder::new()
            .name(format!("portsd-udp-{number}"))
            .spawn(serve)
            .map_err(ServerError::Thread)?;
        match started_receiver.await {
            Ok(Ok(())) => Ok(finished_receiver),
            Ok(Err(error)) => Err(ServerError::Thread(error)),
            Err(_) => Err(ServerError::Thread(io::Error::other(
                "the thread ended at once",
            ))),
        }
    }

    /// One UDP socket's loop. The socket is registered with the runtime for reading only: a
    /// UDP socket is almost always writable, and with write interest every answer the client
    /// reads (which frees send-buffer space) raises a write event nobody waits for, costing an
    /// extra turn of the event loop per query at moderate load, or a wake-up when the loop was
    /// already asleep (seen with strace: `epoll_wait` returning `EPOLLOUT` after each answer).
    /// Write readiness is waited for only when a send would block (see [`wait_writable`]).
    async fn serve_udp(self, socket: AsyncFd<std::net::UdpSocket>, stop: CancellationToken) {
        use std::os::fd::AsRawFd;
        let fd = socket.as_raw_fd();
        let mut batch = Batch::new();
        loop {
            let received = tokio::select! {
                ready = socket.readable() => match ready {
                    Ok(mut guard) => match guard.try_io(|_| batch.receive(fd)) {
                        Ok(received) => {
                            // A short batch means the kernel's queue was empty when it was
                            // taken, so the readiness can go now instead of after one more
                            // call that would only say so. Datagrams that arrive later raise a
                            // new event, which the runtime keeps apart from the one cleared.
                            if received.as_ref().is_ok_and(|&count| count < BATCH) {
                                guard.clear_ready();
                            }
                            received
                        }
                        Err(_would_block) => continue,
                    },
                    Err(_) => return,
                },
                // When stopping, read what the kernel already holds directly (the runtime's
                // readiness may not know about it), answer it, and leave once the queue is
                // empty.
                () = stop.cancelled() => match batch.receive(fd) {
                    Err(_) => return,
                    received => received,
                },
            };
            if let Err(error) = received {
                debug!(%error, "udp receive failed");
                continue;
            }
            // One clock reading per batch: the rate limiter's "now" and the start of every
            // query's latency, which thus includes the wait behind earlier queries of the batch.
            let received_at = Instant::now();
            for i in 0..batch.len() {
                let (packet, source, answer) = batch.slot(i);
                let Some(source) = source else { continue };
                if self.respond_udp(packet, source, answer, received_at).await {
                    batch.reply(i);
                }
            }
            let replies = batch.replies();
            let mut sent = 0;
            while sent < replies {
                match batch.send(fd, sent) {
                    Ok(now) => sent = now,
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                        if wait_writable(socket.get_ref()).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        // One bad destination must not cost the rest of the batch.
                        debug!(%error, "udp send failed");
                        sent += 1;
                    }
                }
            }
        }
    }

    /// Builds the UDP response to `packet` into `out`; false when nothing is to be sent.
    async fn respond_udp(
        &self,
        packet: &[u8],
        src: SocketAddr,
        out: &mut Vec<u8>,
        received_at: Instant,
    ) -> bool {
        if src.port() == 0 {
            return false;
        }
        if !self.settings.access.permits(src.ip()) {
            self.metrics.refused(Transport::Udp);
            return false;
        }
        if !self.fast_response(packet, out) {
            match self.general_response(packet, src, Protocol::Udp).await {
                Some(bytes) => *out = bytes,
                None => return false,
            }
        }
        // Only a response that would be sent spends the client's budget: junk that gets
        // silence must not use up the limit of the network it claims to come from.
        match self.limiter.check(src.ip(), received_at) {
            Verdict::Answer => {}
            Verdict::Slip => {
                wire::truncate_for_slip(out);
                self.metrics.slipped();
            }
            Verdict::Drop => {
                self.metrics.dropped();
                return false;
            }
        }
        self.metrics
            .record(Transport::Udp, out, received_at.elapsed());
        if self.settings.log_queries {
            log_query(Protocol::Udp, src, packet, out);
        }
        true
    }

    /// The UDP fast path: answers a plain query into `out` without hickory's message types.
    /// Returns false, leaving `out` untouched, for anything that is not a plain query.
    pub fn fast_response(&self, packet: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(query) = wire::parse_query(packet) else {
            return false;
        };
        let snapshot = self.shared.snapshot.load();
        let zone = &self.shared.zone;
        let answer = answer::answer(zone, &snapshot, query.labels(), query.qtype, query.qclass);
        wire::encode_response(&query, zone, &answer, query.udp_limit(), out);
        true
    }

    /// The general hickory path: parse with hickory, answer with [`PortsHandler`]. Messages
    /// shorter than a header and responses get no answer; anything else that does not parse
    /// gets FORMERR.
    pub async fn general_response(
        &self,
        packet: &[u8],
        src: SocketAddr,
        protocol: Protocol,
    ) -> Option<Vec<u8>> {
        let header = Header::read(&mut BinDecoder::new(packet)).ok()?;
        if header.metadata.message_type == MessageType::Response {
            return None;
        }
        let reply = EncodedReply::new(protocol);
        match Request::from_bytes(packet.to_vec(), src, protocol) {
            Ok(request) => {
                self.handler
                    .handle_request::<_, TokioTime>(&request, reply.clone())
                    .await;
                Some(reply.take())
            }
            Err(error) => {
                debug!(%error, %src, "malformed query");
                let queries = Queries::read(&mut BinDecoder::new(&[]), 0).ok()?;
                error_response(&header, &queries, ResponseCode::FormErr)
            }
        }
    }

    async fn serve_tcp(self, listener: TcpListener, stop: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.settings.tcp.max_connections));
        let mut connections = tokio::task::JoinSet::new();
        loop {
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = stop.cancelled() => break,
            };
            let (stream, src) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of descriptors or similar: back off instead of spinning.
                        warn!(%error, "tcp accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = stop.cancelled() => break,
            };
            let server = self.clone();
            let stop = stop.clone();
            connections.spawn(async move {
                server.serve_connection(stream, src, stop).await;
                drop(permit);
            });
            while connections.try_join_next().is_some() {}
        }
        while connections.join_next().await.is_some() {}
    }

    async fn serve_connection(&self, stream: TcpStream, src: SocketAddr, stop: CancellationToken) {
        let limits = self.settings.tcp;
        let admitted = self.settings.access.permits(src.ip());
        let (reader, mut writer) = stream.into_split();
        let mut reader = tokio::io::BufReader::new(reader);
        let mut message = Vec::new();
        // Answers wait here only while the next query is already complete in the read buffer,
        // so a burst of pipelined queries costs one write and no answer waits for the network.
        let mut pending = Vec::new();
        let mut answered = 0usize;
        let mut flush_limit = limits.idle_timeout;
        let mut stopping = false;
        loop {
            if !pending.is_empty() && !holds_complete_message(reader.buffer()) {
                // A client that does not read its answers is idle too.
                let written =
                    tokio::time::timeout(limits.idle_timeout, writer.write_all(&pending)).await;
                pending.clear();
                if !matches!(written, Ok(Ok(()))) {
                    return;
                }
            }
            if limits.max_queries != 0 && answered >= limits.max_queries {
                break;
            }
            let read = async {
                let len = reader.read_u16().await?;
                message.resize(usize::from(len), 0);
                reader.read_exact(&mut message).await?;
                io::Result::Ok(())
            };
            // Once stopping, queries already on their way still get a moment to arrive and be
            // answered; then the connection closes.
            let wait = if stopping {
                IN_FLIGHT_GRACE
            } else {
                limits.idle_timeout
            };
            let outcome = tokio::select! {
                outcome = tokio::time::timeout(wait, read) => outcome,
                () = stop.cancelled(), if !stopping => {
                    stopping = true;
                    flush_limit = SHUTDOWN_GRACE;
                    continue;
                }
            };
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    debug!(%error, %src, "tcp connection closed");
                    break;
                }
                Err(_) => {
                    debug!(%src, "tcp connection idle, closing");
                    break;
                }
            }
            answered += 1;
            let started = Instant::now();
            let response = if admitted {
                self.general_response(&message, src, Protocol::Tcp).await
            } else {
                self.metrics.refused(Transport::Tcp);
                refused_response(&message)
            };
            let Some(response) = response else {
                continue;
            };
            self.metrics
                .record(Transport::Tcp, &response, started.elapsed());
            if self.settings.log_queries {
                log_query(Protocol::Tcp, src, &message, &response);
            }
            let Ok(len) = u16::try_from(response.len()) else {
                break;
            };
            pending.extend_from_slice(&len.to_be_bytes());
            pending.extend_from_slice(&response);
        }
        // Whatever ended the connection, the answers already built go out.
        if !pending.is_empty() {
            let _ = tokio::time::timeout(flush_limit, writer.write_all(&pending)).await;
        }
    }
}

/// Whether `buffered` starts with a whole length-prefixed message.
fn holds_complete_message(buffered: &[u8]) -> bool {
    match buffered {
        [high, low, rest @ ..] => rest.len() >= usize::from(u16::from_be_bytes([*high, *low])),
        _ => false,
    }
}

/// REFUSED for a client the access list refuses (TCP: the address is real, so it is told),
/// with the question echoed; FORMERR-style silence rules as for any other message.
fn refused_response(packet: &[u8]) -> Option<Vec<u8>> {
    let mut decoder = BinDecoder::new(packet);
    let header = Header::read(&mut decoder).ok()?;
    if header.metadata.message_type == MessageType::Response {
        return None;
    }
    let queries = Queries::read(&mut decoder, usize::from(header.counts.queries))
        .or_else(|_| Queries::read(&mut BinDecoder::new(&[]), 0))
        .ok()?;
    error_response(&header, &queries, ResponseCode::Refused)
}

/// An error response echoing `queries` (possibly none), encoded as hickory-server encodes it.
fn error_response(header: &Header, queries: &Queries, code: ResponseCode) -> Option<Vec<u8>> {
    let response = MessageResponseBuilder::new(queries, None).error_msg(&header.metadata, code);
    let mut bytes = Vec::with_capacity(64);
    response
        .destructive_emit(&mut BinEncoder::new(&mut bytes))
        .ok()?;
    Some(bytes)
}

/// One structured line per query (`--log-queries`).
fn log_query(protocol: Protocol, src: SocketAddr, query: &[u8], response: &[u8]) {
    let client: IpAddr = src.ip();
    let parsed = hickory_server::proto::op::Message::from_vec(query).ok();
    let question = parsed.as_ref().and_then(|m| m.queries.first());
    let rcode = response.get(3).map_or(0, |b| b & 0x0F);
    info!(
        %protocol,
        %client,
        name = question.map(|q| q.name().to_string()).unwrap_or_default(),
        qtype = question.map(|q| q.query_type().to_string()).unwrap_or_default(),
        rcode,
        bytes = response.len(),
        "query"
    );
}

/// Tells the service manager (systemd) about state changes; does nothing without one.
fn notify(state: &[sd_notify::NotifyState<'_>]) {
    if let Err(error) = sd_notify::notify(state) {
        debug!(%error, "sd_notify failed");
    }
}

impl Server {
    /// Reloads the data for `trigger` (SIGHUP, `--watch`), logs the outcome and tells systemd
    /// that a reload is under way and when it is over. The table is built on a blocking thread,
    /// so the serving loops keep answering from the current one meanwhile.
    async fn reload_and_notify(&self, trigger: &str) {
        match sd_notify::NotifyState::monotonic_usec_now() {
            Ok(now) => notify(&[sd_notify::NotifyState::Reloading, now]),
            Err(_) => notify(&[sd_notify::NotifyState::Reloading]),
        }
        let server = self.clone();
        match tokio::task::spawn_blocking(move || server.reload()).await {
            Ok(Ok(serial)) => info!(serial, trigger, "reloaded the data"),
            Err(error) => warn!(%error, trigger, "reload failed, still serving the previous table"),
            Ok(Err(errors)) => {
                for problem in &errors.0 {
                    warn!(
                        trigger,
                        "reload failed, still serving the previous table: {problem}"
                    );
                }
            }
        }
        notify(&[sd_notify::NotifyState::Ready]);
    }

    /// Runs as a daemon: serves until SIGTERM or SIGINT, reloads the data on SIGHUP and on
    /// `watcher`'s changes, and reports readiness, reloads, stopping and watchdog pings to
    /// systemd when it is there.
    pub async fn run_until_signalled(
        &self,
        listeners: Listeners,
        mut watcher: Option<DataWatcher>,
    ) -> anyhow::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup())?;
        let mut terms = signal(SignalKind::terminate())?;
        let mut interrupts = signal(SignalKind::interrupt())?;
        let reloader = {
            let server = self.clone();
            async move {
                loop {
                    tokio::select! {
                        hangup = hangups.recv() => match hangup {
                            Some(()) => server.reload_and_notify("SIGHUP").await,
                            None => return,
                        },
                        () = watch::next_change(&mut watcher) => {
                            server.reload_and_notify("data files changed").await;
                        }
                    }
                }
            }
        };
        let watchdog = async move {
            if let Some(period) = sd_notify::watchdog_enabled() {
                let mut ticks = tokio::time::interval(period / 2);
                loop {
                    ticks.tick().await;
                    notify(&[sd_notify::NotifyState::Watchdog]);
                }
            } else {
                std::future::pending::<()>().await;
            }
        };
        let shutdown = async {
            notify(&[sd_notify::NotifyState::Ready]);
            tokio::select! {
                _ = terms.recv() => {}
                _ = interrupts.recv() => {}
                () = reloader => {}
                () = watchdog => {}
            }
            notify(&[sd_notify::NotifyState::Stopping]);
        };
        self.run(listeners, shutdown).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_messages_are_recognised_in_the_read_buffer() {
        assert!(!holds_complete_message(&[]));
        assert!(!holds_complete_message(&[0]));
        assert!(holds_complete_message(&[0, 0]));
        assert!(!holds_complete_message(&[0, 3, 1, 2]));
        assert!(holds_complete_message(&[0, 3, 1, 2, 3, 9]));
    }

    /// The write wait registers its own duplicate, so it works beside the read-only
    /// registration of the same socket and returns at once for a socket with room.
    #[tokio::test]
    async fn writable_wait_works_beside_the_read_registration() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind port 0");
        socket.set_nonblocking(true).expect("non-blocking");
        let reading = register_udp(socket, Interest::READABLE).expect("registered for reading");
        for _ in 0..2 {
            tokio::time::timeout(Duration::from_secs(5), wait_writable(reading.get_ref()))
                .await
                .expect("an empty socket is writable at once")
                .expect("a duplicate registers beside the reading one, again after a drop");
        }
    }

    /// The kernel's cap on unprivileged buffer requests, `net.core.{name}`.
    fn buffer_limit(name: &str) -> usize {
        std::fs::read_to_string(format!("/proc/sys/net/core/{name}"))
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Bound UDP sockets get buffers of `UDP_BUFFER_BYTES` (reported doubled): all of it where
    /// the process may force it, else as much as `rmem_max`/`wmem_max` allow.
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
            receive >= 2 * UDP_BUFFER_BYTES.min(buffer_limit("rmem_max")),
            "{receive}"
        );
        assert!(
            send >= 2 * UDP_BUFFER_BYTES.min(buffer_limit("wmem_max")),
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
    /// keeps it.
    #[test]
    fn larger_udp_buffers_are_kept() {
        use nix::sys::socket::{setsockopt, sockopt};
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind port 0");
        let handle = socket2::SockRef::from(&socket);
        let larger = 2 * UDP_BUFFER_BYTES;
        if setsockopt(&socket, sockopt::RcvBufForce, &larger).is_err() {
            handle.set_recv_buffer_size(larger).expect("SO_RCVBUF");
        }
        let before = handle.recv_buffer_size().expect("SO_RCVBUF");
        enlarge_udp_buffers(&socket);
        assert_eq!(handle.recv_buffer_size().expect("SO_RCVBUF"), before);
    }

    #[test]
    fn serials_move_forward_only_on_change() {
        let t = |secs| UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(next_serial(None, 1, t(1_000)), 1_000);
        assert_eq!(next_serial(Some((1_000, 1)), 1, t(5_000)), 1_000);
        assert_eq!(next_serial(Some((1_000, 1)), 2, t(5_000)), 5_000);
        assert_eq!(next_serial(Some((9_000, 1)), 2, t(5_000)), 9_001);
    }
}
