//! DNS Cookies (RFC 7873), with the interoperable server cookie of RFC 9018: socket-free
//! checking of a request's COOKIE option and making of the response's.
//!
//! A server cookie is 16 bytes: version 1, three reserved zero bytes, the time it was made
//! (seconds since 1970, 32 bits), and a SipHash-2-4 (keyed with the 128-bit secret) of the
//! client cookie, those first eight bytes and the client's address. Every instance given the
//! same secret (`--cookie-secret`) makes and accepts the same cookies, whichever server
//! software it is: an anycast group can mix portsd with BIND, Knot or NSD.
//!
//! A request's cookie is one of: malformed (FORMERR, RFC 7873 5.2.2), a client cookie alone, a
//! server cookie this server made (for this client, from the current or the previous secret,
//! at most an hour old and at most five minutes ahead: RFC 9018 4.3), or one it did not. Every
//! answer to a well-formed cookie carries the client cookie and a server cookie made now, so
//! the client always holds a fresh one. Only a valid server cookie proves that the client
//! receives what is sent to its address; the pipeline exempts such requests from rate
//! limiting.

use std::hash::Hasher;
use std::net::IpAddr;

use siphasher::sip::SipHasher24;

/// Bytes of a client cookie.
const CLIENT_BYTES: usize = 8;
/// Bytes of the server cookie portsd makes (RFC 9018).
const SERVER_BYTES: usize = 16;
/// The server cookie's version.
const VERSION: u8 = 1;
/// How old a server cookie may be and still count (RFC 9018 4.3: one hour).
const MAX_AGE_SECONDS: u32 = 3600;
/// How far ahead of this server's clock a cookie may be dated (another instance's clock).
const MAX_AHEAD_SECONDS: u32 = 300;

/// The secret server cookies are made with, and the one before it: during a rotation every
/// instance first gets `NEW,OLD` (cookies made by instances still on `OLD` still count), then
/// `NEW` alone.
#[derive(Clone, PartialEq, Eq)]
pub struct CookieSecrets {
    current: [u8; 16],
    previous: Option<[u8; 16]>,
}

impl std::fmt::Debug for CookieSecrets {
    /// Says that secrets are set, never what they are.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = 1 + usize::from(self.previous.is_some());
        write!(f, "CookieSecrets({count} hidden)")
    }
}

/// A `--cookie-secret` that cannot be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "--cookie-secret: expected 32 hex digits (128 bits), optionally ,32 more for the previous secret"
)]
pub struct CookieSecretError;

impl CookieSecrets {
    /// A secret drawn from the operating system's random source: cookies are then valid at
    /// this instance only, until it restarts.
    pub fn random() -> Result<CookieSecrets, getrandom::Error> {
        let mut current = [0; 16];
        getrandom::fill(&mut current)?;
        Ok(CookieSecrets {
            current,
            previous: None,
        })
    }

    /// Reads `HEX` or `HEX,PREVIOUS` (32 hex digits each, as BIND's `cookie-secret` and Knot's
    /// `secret`).
    pub(crate) fn parse(text: &str) -> Result<CookieSecrets, CookieSecretError> {
        let secret = |hex: &str| -> Result<[u8; 16], CookieSecretError> {
            let bytes = data_encoding::HEXLOWER_PERMISSIVE
                .decode(hex.trim().as_bytes())
                .map_err(|_| CookieSecretError)?;
            bytes.try_into().map_err(|_| CookieSecretError)
        };
        let (current, previous) = match text.split_once(',') {
            Some((current, previous)) => (secret(current)?, Some(secret(previous)?)),
            None => (secret(text)?, None),
        };
        Ok(CookieSecrets { current, previous })
    }

    fn hash(secret: &[u8; 16], client: &[u8], head: &[u8], address: IpAddr) -> [u8; 8] {
        let mut hasher = SipHasher24::new_with_key(secret);
        hasher.write(client);
        hasher.write(head);
        match address {
            IpAddr::V4(ip) => hasher.write(&ip.octets()),
            IpAddr::V6(ip) => hasher.write(&ip.octets()),
        }
        // SipHash's output is a 64-bit number written least significant byte first, as the
        // reference implementation (and so BIND, Knot and NSD) writes it.
        hasher.finish().to_le_bytes()
    }

    /// The server cookie for `client`'s cookie at `address`, dated `now`.
    fn server_cookie(&self, client: &[u8], address: IpAddr, now: u32) -> [u8; SERVER_BYTES] {
        let mut cookie = [0; SERVER_BYTES];
        cookie[0] = VERSION;
        cookie[4..8].copy_from_slice(&now.to_be_bytes());
        let hash = Self::hash(&self.current, client, &cookie[..8], address);
        cookie[8..].copy_from_slice(&hash);
        cookie
    }

    /// Whether `server` is a cookie one of the secrets made for `client` at `address`, and
    /// recent enough at `now`.
    fn made_here(&self, client: &[u8], server: &[u8], address: IpAddr, now: u32) -> bool {
        if server.len() != SERVER_BYTES || server[0] != VERSION {
            return false;
        }
        let made = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
        // Wrapping differences: both directions stay right across 2106.
        let fresh = now.wrapping_sub(made) <= MAX_AGE_SECONDS
            || made.wrapping_sub(now) <= MAX_AHEAD_SECONDS;
        fresh
            && std::iter::once(&self.current)
                .chain(&self.previous)
                .any(|secret| {
                    let hash = Self::hash(secret, client, &server[..8], address);
                    // Compared in constant time, so the time of a rejection tells a forger
                    // nothing about how many of its bytes were right.
                    hash.iter()
                        .zip(&server[8..])
                        .fold(0, |differ, (a, b)| differ | (a ^ b))
                        == 0
                })
    }

    /// What a request's COOKIE option data (`option`, the bytes after the option's length)
    /// from `address` amounts to at `now`; with it, the option data the response carries.
    pub(crate) fn check(&self, option: &[u8], address: IpAddr, now: u32) -> Cookie {
        // RFC 7873 5.2.2: a client cookie alone, or with a server cookie of 8 to 32 bytes.
        if !(option.len() == CLIENT_BYTES || (16..=40).contains(&option.len())) {
            return Cookie::Malformed;
        }
        let (client, server) = option.split_at(CLIENT_BYTES);
        let mut reply = [0; CLIENT_BYTES + SERVER_BYTES];
        reply[..CLIENT_BYTES].copy_from_slice(client);
        reply[CLIENT_BYTES..].copy_from_slice(&self.server_cookie(client, address, now));
        let kind = if server.is_empty() {
            CookieKind::ClientOnly
        } else if self.made_here(client, server, address, now) {
            CookieKind::Valid
        } else {
            CookieKind::Invalid
        };
        Cookie::WellFormed { kind, reply }
    }
}

/// What a request's cookie amounts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cookie {
    /// Lengths RFC 7873 does not allow: the request gets FORMERR.
    Malformed,
    /// A usable cookie; the response carries `reply` (client cookie, new server cookie).
    WellFormed {
        kind: CookieKind,
        reply: [u8; CLIENT_BYTES + SERVER_BYTES],
    },
}

impl Cookie {
    /// Whether the request carried a server cookie made here for its client.
    pub(crate) fn is_valid(&self) -> bool {
        matches!(
            self,
            Cookie::WellFormed {
                kind: CookieKind::Valid,
                ..
            }
        )
    }

    /// The label in metrics.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Cookie::Malformed => "malformed",
            Cookie::WellFormed { kind, .. } => kind.label(),
        }
    }
}

/// The kinds of well-formed cookie, for the counters and the rate limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CookieKind {
    /// Only a client cookie: the client's first contact, or it keeps no server cookies.
    ClientOnly,
    /// A server cookie made here for this client: its address is its own.
    Valid,
    /// A server cookie not made here, or too old: answered as a first contact.
    Invalid,
}

impl CookieKind {
    fn label(self) -> &'static str {
        match self {
            CookieKind::ClientOnly => "client_only",
            CookieKind::Valid => "valid",
            CookieKind::Invalid => "invalid",
        }
    }
}

/// The clock cookies are dated with: seconds since 1970, modulo 2^32 (RFC 9018 keeps only
/// 32 bits).
pub(crate) fn now() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        data_encoding::HEXLOWER_PERMISSIVE
            .decode(text.as_bytes())
            .unwrap()
    }

    /// RFC 9018 appendix A.1: the server cookie a server with this secret makes for this
    /// client cookie and address at this time.
    #[test]
    fn rfc_9018_example_cookie_is_reproduced() {
        let secrets = CookieSecrets::parse("e5e973e5a6b2a43f48e7dc849e37bfcf").unwrap();
        let client = hex("2464c4abcf10c957");
        let address: IpAddr = "198.51.100.100".parse().unwrap();
        let made = secrets.server_cookie(&client, address, 1559731985);
        assert_eq!(made.to_vec(), hex("010000005cf79f111f8130c3eee29480"));
        let option = [client.clone(), made.to_vec()].concat();
        let Cookie::WellFormed { kind, .. } = secrets.check(&option, address, 1559731985 + 1800)
        else {
            panic!("well formed");
        };
        assert_eq!(kind, CookieKind::Valid);
    }

    #[test]
    fn cookies_count_only_for_their_client_secret_and_time() {
        let secrets = CookieSecrets::parse("000102030405060708090a0b0c0d0e0f").unwrap();
        let address: IpAddr = "2001:db8::1".parse().unwrap();
        let client = [7u8; 8];
        let now = 1_800_000_000;
        let option = |server: &[u8]| [&client[..], server].concat();
        let kind =
            |option: &[u8], address: IpAddr, now: u32| match secrets.check(option, address, now) {
                Cookie::WellFormed { kind, reply } => {
                    assert_eq!(reply[..8], option[..8], "the client cookie is echoed");
                    Some(kind)
                }
                Cookie::Malformed => None,
            };
        let made = secrets.server_cookie(&client, address, now);
        assert_eq!(
            kind(&option(&[]), address, now),
            Some(CookieKind::ClientOnly)
        );
        assert_eq!(kind(&option(&made), address, now), Some(CookieKind::Valid));
        assert_eq!(
            kind(&option(&made), address, now + 3600),
            Some(CookieKind::Valid)
        );
        assert_eq!(
            kind(&option(&made), address, now + 3601),
            Some(CookieKind::Invalid)
        );
        assert_eq!(
            kind(&option(&made), address, now - 300),
            Some(CookieKind::Valid)
        );
        assert_eq!(
            kind(&option(&made), address, now - 301),
            Some(CookieKind::Invalid)
        );
        let elsewhere: IpAddr = "2001:db8::2".parse().unwrap();
        assert_eq!(
            kind(&option(&made), elsewhere, now),
            Some(CookieKind::Invalid)
        );
        let mut forged = made;
        forged[15] ^= 1;
        assert_eq!(
            kind(&option(&forged), address, now),
            Some(CookieKind::Invalid)
        );
        // After a rotation the old secret's cookies still count, as the previous secret.
        let rotated = CookieSecrets::parse(
            "ffeeddccbbaa99887766554433221100,000102030405060708090a0b0c0d0e0f",
        )
        .unwrap();
        assert!(rotated.made_here(&client, &made, address, now));
        let other = CookieSecrets::parse("ffeeddccbbaa99887766554433221100").unwrap();
        assert!(!other.made_here(&client, &made, address, now));
        for length in [0, 1, 7, 9, 15, 41, 60] {
            assert_eq!(
                kind(&vec![1; length], address, now),
                None,
                "length {length}"
            );
        }
        assert_eq!(kind(&[1; 40], address, now), Some(CookieKind::Invalid));
    }

    #[test]
    fn every_kind_of_cookie_has_its_counter() {
        let reply = [0; CLIENT_BYTES + SERVER_BYTES];
        let kinds = [
            CookieKind::ClientOnly,
            CookieKind::Valid,
            CookieKind::Invalid,
        ];
        let cookies = kinds
            .map(|kind| Cookie::WellFormed { kind, reply })
            .into_iter()
            .chain([Cookie::Malformed]);
        for cookie in cookies {
            assert!(
                crate::metrics::COOKIE_KINDS.contains(&cookie.label()),
                "{cookie:?}"
            );
        }
    }

    #[test]
    fn secrets_are_read_and_never_shown() {
        let secrets = CookieSecrets::parse("000102030405060708090A0B0C0D0E0F,").unwrap_err();
        assert_eq!(secrets, CookieSecretError);
        for bad in [
            "",
            "0011",
            "zz0102030405060708090a0b0c0d0e0f",
            &"00".repeat(17),
        ] {
            assert_eq!(CookieSecrets::parse(bad), Err(CookieSecretError), "{bad:?}");
        }
        let two = CookieSecrets::parse(
            "000102030405060708090A0B0C0D0E0F,ffeeddccbbaa99887766554433221100",
        )
        .unwrap();
        assert_eq!(format!("{two:?}"), "CookieSecrets(2 hidden)");
        assert_ne!(
            CookieSecrets::random().unwrap(),
            CookieSecrets::random().unwrap()
        );
    }
}
