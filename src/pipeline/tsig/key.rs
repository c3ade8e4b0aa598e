//! TSIG keys: the shared secrets, their names and algorithms in the wire form every signature
//! carries, and the keyring requests are checked against.

use std::sync::Arc;

use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;

use crate::wire::tsig::{Fields, append, rdata_len, time48, variables};

/// The fudge portsd signs with and the most clock skew it accepts from a client's: five
/// minutes, RFC 8945's recommendation and the default of NSD, Knot and BIND.
pub(super) const FUDGE: u16 = 300;

/// One shared secret.
pub(crate) struct Key {
    /// The key's name, lower-case, in wire form (uncompressed).
    pub(super) name_wire: Vec<u8>,
    pub(super) name: Name,
    pub(super) algorithm: TsigAlgorithm,
    /// The algorithm's name, lower-case, in wire form, as every signature carries it.
    pub(super) algorithm_wire: Vec<u8>,
    /// The bytes of the TSIG record this key adds to a response without other data.
    pub(super) record_len: usize,
    pub(super) secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    /// Names the key and its algorithm, never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({} {})", self.name, self.algorithm)
    }
}

/// Lower-case wire form of a name.
fn wire_lowercase(name: &Name) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out
}

impl Key {
    /// A key named `name` for `algorithm` (`hmac-sha256`, `hmac-sha384`, `hmac-sha512`) with
    /// `secret`.
    pub(crate) fn new(name: &str, algorithm: &str, secret: Vec<u8>) -> Result<Key, String> {
        let mut name = Name::from_ascii(name).map_err(|e| format!("bad key name {name:?}: {e}"))?;
        name.set_fqdn(true);
        let algorithm = match algorithm.to_ascii_lowercase().as_str() {
            "hmac-sha256" => TsigAlgorithm::HmacSha256,
            "hmac-sha384" => TsigAlgorithm::HmacSha384,
            "hmac-sha512" => TsigAlgorithm::HmacSha512,
            other => {
                return Err(format!(
                    "unsupported algorithm {other:?} (hmac-sha256, hmac-sha384 or hmac-sha512)"
                ));
            }
        };
        if secret.is_empty() {
            return Err("empty secret".to_owned());
        }
        let name_wire = wire_lowercase(&name);
        let algorithm_wire = wire_lowercase(&algorithm.to_name());
        let mac_len = match algorithm {
            TsigAlgorithm::HmacSha256 => 32,
            TsigAlgorithm::HmacSha384 => 48,
            // HMAC-SHA512, the only other algorithm accepted above.
            _ => 64,
        };
        // Owner, then type, class, TTL and RDLENGTH, then the RDATA.
        let record_len = name_wire.len() + 10 + rdata_len(algorithm_wire.len(), mac_len, 0);
        Ok(Key {
            name_wire,
            name,
            algorithm_wire,
            record_len,
            algorithm,
            secret,
        })
    }

    /// Appends a TSIG record signing `message`, a request portsd sends (RFC 8945 4.3.3: the
    /// message and the TSIG variables, no earlier MAC), and returns the MAC, which the answer's
    /// signature covers.
    pub(crate) fn sign_request(&self, message: &mut Vec<u8>, now: u64) -> Vec<u8> {
        let time = time48(now);
        let mut covered = Vec::with_capacity(message.len() + 100);
        covered.extend_from_slice(message);
        variables(
            &mut covered,
            &self.name_wire,
            &self.algorithm_wire,
            &time,
            FUDGE,
            0,
            &[],
        );
        // The algorithms a key can hold are the ones hickory computes.
        let mac = self
            .algorithm
            .mac_data(&self.secret, &covered)
            .unwrap_or_default();
        let original_id = message
            .get(..2)
            .map_or(0, |id| u16::from_be_bytes([id[0], id[1]]));
        let fields = Fields {
            key_name: &self.name_wire,
            algorithm: &self.algorithm_wire,
            time,
            fudge: FUDGE,
            mac: &mac,
            original_id,
            error: 0,
            other: &[],
        };
        append(message, &fields);
        mac
    }

    /// hickory's verifier for answers signed with this key (the acknowledgements of NOTIFY).
    pub(crate) fn verifier(&self) -> Option<hickory_proto::rr::TSigner> {
        hickory_proto::rr::TSigner::new(
            self.secret.clone(),
            self.algorithm.clone(),
            self.name.clone(),
            FUDGE,
        )
        .ok()
    }

    /// The key's name (for logs and the configuration's checks).
    pub(crate) fn name(&self) -> String {
        self.name.to_ascii()
    }
}

/// The keys portsd knows.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: Vec<Arc<Key>>,
}

impl Keyring {
    /// A keyring holding `keys`; a name given twice is an error (which secret would count?).
    pub(crate) fn new(keys: Vec<Key>) -> Result<Keyring, String> {
        for (i, key) in keys.iter().enumerate() {
            if keys[..i].iter().any(|k| k.name_wire == key.name_wire) {
                return Err(format!("key {} is defined twice", key.name()));
            }
        }
        Ok(Keyring {
            keys: keys.into_iter().map(Arc::new).collect(),
        })
    }

    /// Whether any key is configured.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key requests portsd sends (NOTIFY) are signed with: the first, when there is one.
    pub(crate) fn first(&self) -> Option<Arc<Key>> {
        self.keys.first().cloned()
    }

    pub(super) fn find(&self, name_wire: &[u8]) -> Option<&Arc<Key>> {
        self.keys.iter().find(|k| k.name_wire == name_wire)
    }
}
