//! The transports a request arrives on. Named here, apart from the pipeline that decides by
//! them, so that the serving loops, the pipeline and the metrics that count by them each use
//! this small module and not one another.

/// The transports a request can arrive on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP: answers are capped in size and rate limited; the client's address may be forged.
    Udp,
    /// TCP: the client completed a handshake, so its address is real; answers up to 65,535
    /// bytes.
    Tcp,
    /// DNS over TLS (RFC 7858): TCP's framing and limits inside a TLS session.
    Dot,
    /// DNS over HTTPS (RFC 8484), on the HTTP server's `/dns-query` over HTTP or HTTPS: one
    /// message per request, answers up to 65,535 bytes, no zone transfers.
    Doh,
}

impl Transport {
    /// The name used in logs and metric labels.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Dot => "dot",
            Transport::Doh => "doh",
        }
    }

    /// Every transport, in the order metrics index them.
    pub(crate) const ALL: [Transport; 4] = [
        Transport::Udp,
        Transport::Tcp,
        Transport::Dot,
        Transport::Doh,
    ];

    /// Whether the transport is encrypted, so that padding (RFC 7830) hides something.
    pub(crate) fn encrypted(self) -> bool {
        matches!(self, Transport::Dot | Transport::Doh)
    }
}
