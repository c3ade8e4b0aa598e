//! Batched UDP I/O: up to [`BATCH`] datagrams received with one `recvmmsg` and their answers
//! sent with one `sendmmsg`, the way NSD and Knot cut per-query system calls under load.
//! Safe wrappers from `nix`; the batch owns its buffers and is reused for every round.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

use nix::sys::socket::{
    ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg,
};

/// Datagrams handled per system call.
pub(crate) const BATCH: usize = 32;

/// The largest query kept; a longer datagram is cut by the kernel and treated as malformed.
/// Queries are a few hundred bytes at most, even with EDNS options.
pub(crate) const MAX_QUERY: usize = 4096;

/// One received datagram and the answer being built for it.
struct Slot {
    query: Box<[u8]>,
    len: usize,
    source: Option<SocketAddr>,
    answer: Vec<u8>,
    reply: bool,
}

/// Reusable buffers and headers for one UDP socket's loop.
pub(crate) struct Batch {
    slots: Vec<Slot>,
    received: usize,
}

impl Default for Batch {
    fn default() -> Batch {
        Batch::new()
    }
}

fn to_std(address: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = address.as_sockaddr_in() {
        Some(SocketAddr::V4(SocketAddrV4::from(*v4)))
    } else {
        address
            .as_sockaddr_in6()
            .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
    }
}

impl Batch {
    /// Buffers for [`BATCH`] queries and answers.
    pub(crate) fn new() -> Batch {
        Batch {
            slots: (0..BATCH)
                .map(|_| Slot {
                    query: vec![0; MAX_QUERY].into_boxed_slice(),
                    len: 0,
                    source: None,
                    answer: Vec::with_capacity(1232),
                    reply: false,
                })
                .collect(),
            received: 0,
        }
    }

    /// Receives what is waiting on `fd` without blocking; `WouldBlock` when nothing is.
    pub(crate) fn receive(&mut self, fd: RawFd) -> io::Result<usize> {
        // The headers hold raw pointers into the buffers, so they live only for this call
        // (which also keeps the batch `Send` across the loop's awaits).
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
        let mut received = Vec::with_capacity(BATCH);
        {
            let mut buffers: Vec<[IoSliceMut<'_>; 1]> = self
                .slots
                .iter_mut()
                .map(|slot| [IoSliceMut::new(&mut slot.query[..])])
                .collect();
            let results = recvmmsg(
                fd,
                &mut headers,
                buffers.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )
            .map_err(io::Error::from)?;
            for message in results {
                let cut = message.flags.contains(MsgFlags::MSG_TRUNC);
                let source = message.address.as_ref().and_then(to_std);
                received.push((if cut { 0 } else { message.bytes }, source));
            }
        }
        for (slot, (len, source)) in self.slots.iter_mut().zip(&received) {
            slot.len = *len;
            slot.source = *source;
            slot.reply = false;
        }
        self.received = received.len();
        Ok(self.received)
    }

    /// How many datagrams the last [`Batch::receive`] got.
    pub(crate) fn len(&self) -> usize {
        self.received
    }

    /// Datagram `i`: its bytes (empty if it was cut), its source, and the buffer for its
    /// answer. Call [`Batch::reply`] to send the answer.
    pub(crate) fn slot(&mut self, i: usize) -> (&[u8], Option<SocketAddr>, &mut Vec<u8>) {
        let slot = &mut self.slots[i];
        (&slot.query[..slot.len], slot.source, &mut slot.answer)
    }

    /// Marks datagram `i`'s answer for sending.
    pub(crate) fn reply(&mut self, i: usize) {
        self.slots[i].reply = true;
    }

    /// Sends the marked answers without blocking, starting after the first `skip` of them.
    /// Returns how many of them (counting `skip`) are sent; fewer than
    /// [`Batch::replies`] means the socket buffer was full.
    pub(crate) fn send(&mut self, fd: RawFd, skip: usize) -> io::Result<usize> {
        let pending: Vec<&Slot> = self
            .slots
            .iter()
            .take(self.received)
            .filter(|s| s.reply && s.source.is_some())
            .skip(skip)
            .collect();
        if pending.is_empty() {
            return Ok(skip);
        }
        let buffers: Vec<[IoSlice<'_>; 1]> =
            pending.iter().map(|s| [IoSlice::new(&s.answer)]).collect();
        let addresses: Vec<Option<SockaddrStorage>> = pending
            .iter()
            .map(|s| s.source.map(SockaddrStorage::from))
            .collect();
        let no_control: [ControlMessage<'_>; 0] = [];
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(pending.len(), None);
        let sent = sendmmsg(
            fd,
            &mut headers,
            buffers.iter(),
            addresses,
            no_control,
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(io::Error::from)?
        .count();
        Ok(skip + sent)
    }

    /// How many answers are marked for sending.
    pub(crate) fn replies(&self) -> usize {
        self.slots
            .iter()
            .take(self.received)
            .filter(|s| s.reply && s.source.is_some())
            .count()
    }
}
