//! Response rate limiting (RRL): decides, per UDP response, whether to send it, send a truncated
//! stand-in, or stay silent, so that portsd cannot be used to flood a spoofed victim with large
//! TXT answers.
//!
//! # Model
//! Clients are grouped by network prefix (IPv4 /24 and IPv6 /56 by default), because a spoofing
//! attacker can vary the low bits of the victim's address at will. Each prefix owns a token bucket
//! that holds at most one second's worth of responses (the burst) and refills at
//! `responses_per_second`. The bucket is stored as a single "theoretical arrival time" (the
//! generic cell rate algorithm): a response is allowed when, after charging it one interval of
//! `1 s / rate`, the prefix is no more than one second ahead of the clock. This is exactly a
//! token bucket, without fractional tokens or a refill step.
//!
//! A response that exceeds the limit is not always dropped: every `slip`-th limited response for a
//! prefix, starting with the first, is sent as a truncated (TC=1) answer. A genuine client whose
//! address is being abused then retries over TCP, which cannot be spoofed; a victim only ever
//! receives small packets.
//!
//! Only UDP responses are meant to be checked: a TCP client has completed a handshake, so its
//! address is real and it cannot be used as a reflector. Unlike NSD and Knot, all responses to a
//! prefix share one bucket whatever their type or rcode: the zone is small and uniform, so
//! classifying answers would add cost without separating legitimate from abusive traffic.
//!
//! # Defaults and why
//! - `responses_per_second = 200`: NSD's `rrl-ratelimit` default, and the value Knot's
//!   documentation uses for `rate-limit`. A recursive resolver caches our answers for their TTL,
//!   so even a busy /24 of resolvers needs far fewer than 200 answers per second from one small
//!   zone; an attacker reflecting through us is capped at 200 answers per second per victim
//!   network. `0` turns limiting off.
//! - `slip = 2`: both NSD and Knot slip every second limited response. `1` slips all of them,
//!   `0` never slips (limited responses are all dropped).
//! - Prefix lengths /24 and /56: the usual allocation sizes for one customer site, as in NSD
//!   (`rrl-ipv4-prefix-length`, `rrl-ipv6-prefix-length`) and Knot.
//! - Exempt: loopback (`default_exempt`), because the kernel drops packets from outside
//!   that claim a loopback source, so answers to it cannot be reflected at anyone, and a
//!   resolver on the same host must not be throttled. `--rate-limit-exempt` replaces the list.
//!
//! # Memory and concurrency
//! The bucket table has a fixed number of slots (`BUCKET_COUNT`; none when limiting is
//! off), never grown, so a flood from millions of prefixes costs no memory beyond it. The
//! slots are allocated a chunk (`CHUNK` slots) at a time, the first time a prefix lands in the
//! chunk: a server whose clients are all exempt (loopback, by default) holds none of the 3 MiB,
//! and one with a few clients holds a few chunks. A prefix is
//! placed by a hash keyed with per-process random keys (so an attacker cannot aim collisions at a
//! victim's slot); when two prefixes land in one slot the newcomer takes it over and starts with a
//! full bucket, as in NSD. Every slot has its own mutex, held for a few arithmetic operations, so
//! concurrent callers only wait for each other when they touch the same prefix. Nothing is
//! allocated per call.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Instant;

use ipnet::IpNet;

use crate::pipeline::acl::unmapped;

/// Networks exempt from rate limiting unless `--rate-limit-exempt` says otherwise (see the
/// module docs).
pub(crate) fn default_exempt() -> Vec<IpNet> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .filter_map(|net| net.parse().ok())
        .collect()
}

/// Number of bucket slots (a power of two, so a hash is reduced with a mask). At 48 bytes a slot
/// the table takes 3 MiB, and 65,536 concurrently active prefixes fit before any take-over.
const BUCKET_COUNT: usize = 1 << 16;

/// Slots allocated together (48 KiB), the first time a prefix lands among them.
const CHUNK: usize = 1 << 10;

/// `CHUNK` slots of the bucket table.
type Chunk = Box<[Mutex<Bucket>]>;

const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// Settings for [`RateLimiter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Responses per second allowed per client prefix, also the burst size; 0 disables limiting.
    pub responses_per_second: u32,
    /// Every `slip`-th limited response is sent truncated instead of dropped; 0 never slips.
    pub slip: u32,
    /// IPv4 clients sharing this many leading bits share a bucket (values above 32 mean 32).
    pub ipv4_prefix_len: u8,
    /// IPv6 clients sharing this many leading bits share a bucket (values above 128 mean 128).
    pub ipv6_prefix_len: u8,
    /// Clients in these networks are never limited (IPv4-mapped IPv6 networks count as IPv4).
    pub exempt: Vec<IpNet>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            responses_per_second: 200,
            slip: 2,
            ipv4_prefix_len: 24,
            ipv6_prefix_len: 56,
            exempt: Vec::new(),
        }
    }
}

/// What to do with one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send the full response.
    Answer,
    /// Send a truncated response (TC=1, no records) so a genuine client retries over TCP.
    Slip,
    /// Send nothing.
    Drop,
}

/// One slot of the table.
#[derive(Debug, Default)]
struct Bucket {
    /// The prefix owning the slot, as built by [`RateLimiter::prefix_key`].
    prefix: u128,
    /// Nanoseconds since the limiter's epoch at which the bucket would be full again; a value at
    /// or before now means it is full.
    full_at: u64,
    /// Limited responses so far for this prefix, to pick which ones slip.
    limited: u32,
}

/// Shared, thread-safe response rate limiter; see the module docs for the algorithm.
#[derive(Debug)]
pub struct RateLimiter {
    /// Cost of one response in nanoseconds (`1 s / rate`); unused when `enabled` is false.
    interval: u64,
    /// How far ahead of the clock a prefix may run: one second's worth of intervals.
    burst: u64,
    enabled: bool,
    slip: u32,
    ipv4_mask: u32,
    ipv6_mask: u128,
    exempt: Vec<IpNet>,
    /// Keys of the slot hash, random per process.
    hasher: RandomState,
    /// Time zero for `Bucket::full_at`.
    epoch: Instant,
    /// The slots, `CHUNK` per chunk, each chunk allocated on first use; no chunks when
    /// limiting is off.
    buckets: Box<[OnceLock<Chunk>]>,
}

impl RateLimiter {
    /// Builds a limiter with an empty (all-full) bucket table.
    pub fn new(config: RateLimitConfig) -> RateLimiter {
        let rate = u64::from(config.responses_per_second);
        let interval = (NANOS_PER_SECOND / rate.max(1)).max(1);
        RateLimiter {
            interval,
            burst: interval * rate,
            enabled: rate > 0,
            slip: config.slip,
            ipv4_mask: prefix_mask_v4(config.ipv4_prefix_len),
            ipv6_mask: prefix_mask_v6(config.ipv6_prefix_len),
            exempt: config.exempt.into_iter().map(unmapped).collect(),
            hasher: RandomState::new(),
            epoch: Instant::now(),
            buckets: (0..if rate > 0 { BUCKET_COUNT / CHUNK } else { 0 })
                .map(|_| OnceLock::new())
                .collect(),
        }
    }

    /// Decides the fate of one response to `client` sent at `now`, and charges it to the client's
    /// prefix if it is answered.
    pub fn check(&self, client: IpAddr, now: Instant) -> Verdict {
        self.decide(client.to_canonical(), now)
    }

    fn decide(&self, client: IpAddr, now: Instant) -> Verdict {
        if !self.enabled || self.exempt.iter().any(|net| net.contains(&client)) {
            return Verdict::Answer;
        }
        let prefix = self.prefix_key(client);
        let slot = self.hasher.hash_one(prefix) as usize & (BUCKET_COUNT - 1);
        let now =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        let chunk = self.buckets[slot / CHUNK]
            .get_or_init(|| (0..CHUNK).map(|_| Mutex::new(Bucket::default())).collect());
        let mut bucket = chunk[slot % CHUNK]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if bucket.prefix != prefix {
            *bucket = Bucket {
                prefix,
                ..Bucket::default()
            };
        }
        let charged = bucket.full_at.max(now).saturating_add(self.interval);
        if charged - now <= self.burst {
            bucket.full_at = charged;
            return Verdict::Answer;
        }
        let slips = self.slip != 0 && bucket.limited.is_multiple_of(self.slip);
        bucket.limited = bucket.limited.wrapping_add(1);
        if slips { Verdict::Slip } else { Verdict::Drop }
    }

    /// The client's prefix as one integer: IPv4 prefixes are kept in the IPv4-mapped IPv6 range,
    /// which a canonical IPv6 address never occupies, so the two families cannot share a key.
    fn prefix_key(&self, client: IpAddr) -> u128 {
        match client {
            IpAddr::V4(v4) => {
                let mapped = u32::from(v4) & self.ipv4_mask;
                (0xffff_u128 << 32) | u128::from(mapped)
            }
            IpAddr::V6(v6) => u128::from(v6) & self.ipv6_mask,
        }
    }
}

fn prefix_mask_v4(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn prefix_mask_v6(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limiter(rate: u32, slip: u32) -> RateLimiter {
        RateLimiter::new(RateLimitConfig {
            responses_per_second: rate,
            slip,
            ..RateLimitConfig::default()
        })
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    /// Sends `count` responses to `client` at `now`, returning how many were answered.
    fn answered(limiter: &RateLimiter, client: IpAddr, now: Instant, count: usize) -> usize {
        (0..count)
            .filter(|_| limiter.check(client, now) == Verdict::Answer)
            .count()
    }

    #[test]
    fn answers_everything_under_the_limit() {
        let limiter = limiter(10, 2);
        let start = Instant::now();
        for tick in 0..50u32 {
            let now = start + Duration::from_millis(100) * tick;
            assert_eq!(limiter.check(ip("192.0.2.1"), now), Verdict::Answer);
        }
    }

    #[test]
    fn allows_a_one_second_burst_then_alternates_slip_and_drop() {
        let limiter = limiter(10, 2);
        let now = Instant::now();
        let client = ip("192.0.2.1");
        assert_eq!(answered(&limiter, client, now, 10), 10);
        let limited: Vec<Verdict> = (0..6).map(|_| limiter.check(client, now)).collect();
        use Verdict::{Drop, Slip};
        assert_eq!(limited, [Slip, Drop, Slip, Drop, Slip, Drop]);
    }

    #[test]
    fn slip_ratios_zero_one_and_three() {
        use Verdict::{Drop, Slip};
        let cases: [(u32, [Verdict; 6]); 3] = [
            (0, [Drop, Drop, Drop, Drop, Drop, Drop]),
            (1, [Slip, Slip, Slip, Slip, Slip, Slip]),
            (3, [Slip, Drop, Drop, Slip, Drop, Drop]),
        ];
        for (slip, expected) in cases {
            let limiter = limiter(1, slip);
            let now = Instant::now();
            let client = ip("198.51.100.7");
            assert_eq!(limiter.check(client, now), Verdict::Answer);
            let limited: Vec<Verdict> = (0..6).map(|_| limiter.check(client, now)).collect();
            assert_eq!(limited, expected, "slip {slip}");
        }
    }

    #[test]
    fn prefixes_are_grouped_by_default_lengths() {
        // (first client, second client, whether they share a bucket)
        let cases = [
            ("192.0.2.1", "192.0.2.254", true),
            ("192.0.2.1", "192.0.3.1", false),
            ("2001:db8:0:ff00::1", "2001:db8:0:ffff:1::2", true),
            ("2001:db8:0:ff00::1", "2001:db8:0:fe00::1", false),
            ("::ffff:192.0.2.9", "192.0.2.1", true),
            ("::ffff:192.0.2.9", "::ffff:192.0.3.9", false),
        ];
        for (first, second, shared) in cases {
            let limiter = limiter(5, 2);
            let now = Instant::now();
            assert_eq!(answered(&limiter, ip(first), now, 5), 5);
            let second_verdict = limiter.check(ip(second), now);
            let expected = if shared {
                Verdict::Slip
            } else {
                Verdict::Answer
            };
            assert_eq!(second_verdict, expected, "{first} then {second}");
        }
    }

    #[test]
    fn prefix_lengths_are_configurable() {
        let limiter = RateLimiter::new(RateLimitConfig {
            responses_per_second: 1,
            ipv4_prefix_len: 32,
            ipv6_prefix_len: 64,
            ..RateLimitConfig::default()
        });
        let now = Instant::now();
        for client in ["192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8:0:1::1"] {
            assert_eq!(limiter.check(ip(client), now), Verdict::Answer, "{client}");
        }
        assert_eq!(limiter.check(ip("2001:db8::2"), now), Verdict::Slip);
    }

    #[test]
    fn exempt_networks_are_never_limited() {
        let limiter = RateLimiter::new(RateLimitConfig {
            responses_per_second: 1,
            exempt: vec![
                "10.0.0.0/8".parse().expect("net"),
                "2001:db8::/32".parse().expect("net"),
                "::ffff:172.16.0.0/108".parse().expect("net"),
            ],
            ..RateLimitConfig::default()
        });
        let now = Instant::now();
        for client in ["10.1.2.3", "::ffff:10.9.9.9", "2001:db8:1::1", "172.16.5.5"] {
            assert_eq!(answered(&limiter, ip(client), now, 1000), 1000, "{client}");
        }
        assert_eq!(answered(&limiter, ip("11.0.0.1"), now, 3), 1);
    }

    #[test]
    fn rate_zero_never_limits() {
        let limiter = limiter(0, 2);
        let now = Instant::now();
        assert_eq!(answered(&limiter, ip("192.0.2.1"), now, 100_000), 100_000);
    }

    #[test]
    fn tokens_refill_at_the_configured_rate() {
        let limiter = limiter(100, 2);
        let start = Instant::now();
        let client = ip("203.0.113.5");
        assert_eq!(answered(&limiter, client, start, 150), 100);
        // 10 ms at 100/s refills exactly one response.
        let later = start + Duration::from_millis(10);
        assert_eq!(answered(&limiter, client, later, 5), 1);
        // After a full second of silence the whole burst is back, and no more.
        let much_later = later + Duration::from_secs(5);
        assert_eq!(answered(&limiter, client, much_later, 150), 100);
    }

    #[test]
    fn sustained_rate_matches_the_limit() {
        let limiter = limiter(200, 2);
        let start = Instant::now();
        let client = ip("203.0.113.5");
        // 1,000 queries per second for 10 seconds: 200 burst + 200 per second after.
        let sent = (0..10_000u32)
            .filter(|&i| {
                let now = start + Duration::from_millis(1) * i;
                limiter.check(client, now) == Verdict::Answer
            })
            .count();
        assert!((2_000..=2_201).contains(&sent), "answered {sent}");
    }

    #[test]
    fn table_size_is_fixed_whatever_the_number_of_clients() {
        let limiter = limiter(1, 2);
        let now = Instant::now();
        let slots = |limiter: &RateLimiter| -> usize {
            limiter
                .buckets
                .iter()
                .filter_map(OnceLock::get)
                .map(|chunk| chunk.len())
                .sum()
        };
        assert_eq!(
            slots(&limiter),
            0,
            "nothing allocated before a client comes"
        );
        limiter.check(IpAddr::from([192, 0, 2, 1]), now);
        assert_eq!(slots(&limiter), CHUNK, "one client, one chunk");
        for n in 0..100_000u32 {
            let client = IpAddr::from((n << 8).to_be_bytes());
            limiter.check(client, now);
        }
        assert_eq!(slots(&limiter), BUCKET_COUNT);
        let table_bytes = BUCKET_COUNT * std::mem::size_of::<Mutex<Bucket>>();
        assert!(table_bytes <= 3 << 20, "table takes {table_bytes} bytes");
        let exempt_only = RateLimiter::new(RateLimitConfig {
            responses_per_second: 5,
            exempt: default_exempt(),
            ..RateLimitConfig::default()
        });
        exempt_only.check(IpAddr::from([127, 0, 0, 1]), now);
        assert_eq!(slots(&exempt_only), 0, "exempt clients allocate nothing");
    }

    #[test]
    fn shared_between_threads() {
        let limiter = limiter(50, 0);
        let now = Instant::now();
        let client = ip("192.0.2.1");
        let total: usize = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..2)
                .map(|_| scope.spawn(|| answered(&limiter, client, now, 1000)))
                .collect();
            workers
                .into_iter()
                .map(|worker| worker.join().expect("worker"))
                .sum()
        });
        assert_eq!(total, 50);
    }
}
