//! TSIG (RFC 8945), socket-free: the keys (in the `key "name" { algorithm ...; secret "...";
//! };` form BIND's `tsig-keygen` writes), the check of a signed request, and the signing of
//! every message of a response.
//!
//! A request signed with an unknown key or algorithm gets NOTAUTH with TSIG error BADKEY, a
//! wrong MAC NOTAUTH/BADSIG (both unsigned, as the RFC requires), a time outside the fudge
//! NOTAUTH/BADTIME (signed, with the server's time). A good signature makes the response
//! signed; for a transfer every message is: the first over the request's MAC, the message and
//! all the TSIG variables, each later one over the previous MAC, the message and the timers
//! only (RFC 8945 5.3.1). hickory provides the HMACs (constant-time verification) and reads
//! the request's TSIG; the response records are written here, byte for byte.

use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::op::Message;
use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::tsig::{TsigAlgorithm, TsigError, signed_bitmessage_to_buf};

/// The fudge portsd signs with and the most clock skew it accepts from a client's: five
/// minutes, RFC 8945's recommendation and the default of NSD, Knot and BIND.
const FUDGE: u16 = 300;
/// The TSIG record type.
const TSIG_TYPE: u16 = 250;
/// The class of a TSIG record.
const CLASS_ANY: u16 = 255;
/// The NOTAUTH response code.
const NOTAUTH: u8 = 9;

/// One shared secret.
pub struct Key {
    /// The key's name, lower-case, in wire form (uncompressed).
    name_wire: Vec<u8>,
    name: Name,
    algorithm: TsigAlgorithm,
    secret: Vec<u8>,
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
    pub fn new(name: &str, algorithm: &str, secret: Vec<u8>) -> Result<Key, String> {
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
        Ok(Key {
            name_wire: wire_lowercase(&name),
            name,
            algorithm,
            secret,
        })
    }

    /// The key's name (for logs and the configuration's checks).
    pub fn name(&self) -> String {
        self.name.to_ascii()
    }
}

/// A key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("{0}: {1}")]
    Read(String, std::io::Error),
    /// The file is not in the `tsig-keygen` form.
    #[error("{file}:{line}: {reason}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line of the problem.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Reads the keys of a file in the form `tsig-keygen` writes (several keys may follow each
/// other; `#`, `//` and `/* */` comments are skipped).
pub fn read_key_file(path: &Path) -> Result<Vec<Key>, KeyFileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| KeyFileError::Read(file.clone(), e))?;
    parse_keys(&file, &text)
}

/// A token of a key file and the line it is on.
#[derive(Debug, PartialEq, Eq)]
enum Token<'t> {
    Word(&'t str),
    Quoted(&'t str),
    Open,
    Close,
    End,
}

fn tokens(text: &str) -> Result<Vec<(Token<'_>, usize)>, (usize, String)> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        let here = line;
        let take = |n: usize, rest: &mut &str| *rest = &rest[n..];
        if c == '\n' {
            line += 1;
            take(1, &mut rest);
        } else if c.is_whitespace() {
            take(c.len_utf8(), &mut rest);
        } else if c == '#' || rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            take(end, &mut rest);
        } else if rest.starts_with("/*") {
            let end = rest
                .find("*/")
                .ok_or((here, "unterminated comment".to_owned()))?;
            line += rest[..end].matches('\n').count();
            take(end + 2, &mut rest);
        } else if c == '"' {
            let end = rest[1..]
                .find('"')
                .ok_or((here, "unterminated string".to_owned()))?;
            if rest[1..1 + end].contains('\n') {
                return Err((here, "line break inside a string".to_owned()));
            }
            out.push((Token::Quoted(&rest[1..1 + end]), here));
            take(end + 2, &mut rest);
        } else if c == '{' || c == '}' || c == ';' {
            out.push((
                match c {
                    '{' => Token::Open,
                    '}' => Token::Close,
                    _ => Token::End,
                },
                here,
            ));
            take(1, &mut rest);
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || "{};\"#".contains(c))
                .unwrap_or(rest.len());
            out.push((Token::Word(&rest[..end]), here));
            take(end, &mut rest);
        }
    }
    Ok(out)
}

/// Parses `key "name" { algorithm ALG; secret "BASE64"; };` clauses.
pub fn parse_keys(file: &str, text: &str) -> Result<Vec<Key>, KeyFileError> {
    let error = |line: usize, reason: String| KeyFileError::Parse {
        file: file.to_owned(),
        line,
        reason,
    };
    let tokens = tokens(text).map_err(|(line, reason)| error(line, reason))?;
    let last_line = text.lines().count().max(1);
    let at = std::cell::Cell::new(0);
    let next = |what: &str| -> Result<(&Token<'_>, usize), KeyFileError> {
        let token = tokens.get(at.get()).map(|(t, l)| (t, *l)).ok_or_else(|| {
            error(
                last_line,
                format!("expected {what}, found the end of the file"),
            )
        })?;
        at.set(at.get() + 1);
        Ok(token)
    };
    let mut keys = Vec::new();
    while at.get() < tokens.len() {
        let (keyword, line) = next("key")?;
        if *keyword != Token::Word("key") {
            return Err(error(line, format!("expected `key`, found {keyword:?}")));
        }
        let name = match next("a key name")? {
            (Token::Word(name) | Token::Quoted(name), _) => *name,
            (other, line) => {
                return Err(error(line, format!("expected a key name, found {other:?}")));
            }
        };
        if let (token, line) = next("{")?
            && *token != Token::Open
        {
            return Err(error(line, format!("expected {{, found {token:?}")));
        }
        let (mut algorithm, mut secret) = (None, None);
        loop {
            let (token, line) = next("algorithm, secret or }")?;
            let value = |token: &Token<'_>| match token {
                Token::Word(v) | Token::Quoted(v) => Some(v.to_string()),
                _ => None,
            };
            match token {
                Token::Close => break,
                Token::Word("algorithm") => {
                    let (v, l) = next("an algorithm")?;
                    algorithm = Some((
                        value(v).ok_or_else(|| error(l, "expected an algorithm".into()))?,
                        l,
                    ));
                }
                Token::Word("secret") => {
                    let (v, l) = next("a secret")?;
                    secret = Some((
                        value(v).ok_or_else(|| error(l, "expected a secret".into()))?,
                        l,
                    ));
                }
                other => return Err(error(line, format!("unknown setting {other:?}"))),
            }
            if let (token, line) = next(";")?
                && *token != Token::End
            {
                return Err(error(line, format!("expected ;, found {token:?}")));
            }
        }
        if let (token, line) = next(";")?
            && *token != Token::End
        {
            return Err(error(line, format!("expected ; after }}, found {token:?}")));
        }
        let (algorithm, _) =
            algorithm.ok_or_else(|| error(line, format!("key {name:?} has no algorithm")))?;
        let (secret, secret_line) =
            secret.ok_or_else(|| error(line, format!("key {name:?} has no secret")))?;
        let secret = data_encoding::BASE64
            .decode(secret.as_bytes())
            .map_err(|e| error(secret_line, format!("secret is not base64: {e}")))?;
        keys.push(Key::new(name, &algorithm, secret).map_err(|reason| error(line, reason))?);
    }
    Ok(keys)
}

/// The keys portsd knows.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    keys: Vec<Arc<Key>>,
}

impl Keyring {
    /// A keyring holding `keys`; a name given twice is an error (which secret would count?).
    pub fn new(keys: Vec<Key>) -> Result<Keyring, String> {
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
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// A signer for requests portsd sends (NOTIFY) with the first key, when there is one.
    pub(crate) fn first_signer(&self) -> Option<hickory_proto::rr::TSigner> {
        let key = self.keys.first()?;
        hickory_proto::rr::TSigner::new(
            key.secret.clone(),
            key.algorithm.clone(),
            key.name.clone(),
            FUDGE,
        )
        .ok()
    }

    fn find(&self, name: &Name) -> Option<&Arc<Key>> {
        let wire = wire_lowercase(name);
        self.keys.iter().find(|k| k.name_wire == wire)
    }
}

/// What the TSIG check made of a request.
#[derive(Debug)]
pub(crate) enum Check {
    /// No TSIG record: answer as usual.
    Unsigned,
    /// A good signature: answer, and sign the response with this signer.
    Signed(Signer),
    /// A bad one: this NOTAUTH response (already encoded) is the whole answer.
    Rejected(Vec<u8>, TsigError),
}

/// Signs the messages of one response: the first over the request's MAC, each later one over
/// the MAC before it.
#[derive(Debug)]
pub(crate) struct Signer {
    key: Arc<Key>,
    /// The MAC the next message is chained to.
    previous_mac: Vec<u8>,
    original_id: u16,
    first: bool,
}

/// Seconds since the epoch, as TSIG counts time.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Signer {
    /// Appends a TSIG record signing `message` (a complete response without TSIG) and bumps
    /// its additional count.
    pub(crate) fn sign(&mut self, message: &mut Vec<u8>, now: u64) {
        self.sign_with(message, now, None, &[]);
    }

    fn sign_with(
        &mut self,
        message: &mut Vec<u8>,
        now: u64,
        error: Option<TsigError>,
        other: &[u8],
    ) {
        let key = &self.key;
        let algorithm = wire_lowercase(&key.algorithm.to_name());
        let mut tbs = Vec::with_capacity(message.len() + 200);
        tbs.extend_from_slice(&(self.previous_mac.len() as u16).to_be_bytes());
        tbs.extend_from_slice(&self.previous_mac);
        tbs.extend_from_slice(message);
        let time = time48(now);
        let error_code = error.map_or(0, u16::from);
        if self.first {
            tbs.extend_from_slice(&key.name_wire);
            tbs.extend_from_slice(&CLASS_ANY.to_be_bytes());
            tbs.extend_from_slice(&0u32.to_be_bytes());
            tbs.extend_from_slice(&algorithm);
            tbs.extend_from_slice(&time);
            tbs.extend_from_slice(&FUDGE.to_be_bytes());
            tbs.extend_from_slice(&error_code.to_be_bytes());
            tbs.extend_from_slice(&(other.len() as u16).to_be_bytes());
            tbs.extend_from_slice(other);
        } else {
            tbs.extend_from_slice(&time);
            tbs.extend_from_slice(&FUDGE.to_be_bytes());
        }
        // The algorithms a key can hold are the ones hickory computes.
        let mac = key
            .algorithm
            .mac_data(&key.secret, &tbs)
            .unwrap_or_default();
        append_tsig(
            message,
            &key.name_wire,
            &algorithm,
            &time,
            &mac,
            self.original_id,
            error_code,
            other,
        );
        self.previous_mac = mac;
        self.first = false;
    }
}

/// Appends a TSIG record to `message` and counts it in ARCOUNT.
#[allow(clippy::too_many_arguments)]
fn append_tsig(
    message: &mut Vec<u8>,
    key_name: &[u8],
    algorithm: &[u8],
    time: &[u8],
    mac: &[u8],
    original_id: u16,
    error: u16,
    other: &[u8],
) {
    message.extend_from_slice(key_name);
    message.extend_from_slice(&TSIG_TYPE.to_be_bytes());
    message.extend_from_slice(&CLASS_ANY.to_be_bytes());
    message.extend_from_slice(&0u32.to_be_bytes());
    let rdlength = algorithm.len() + 6 + 2 + 2 + mac.len() + 2 + 2 + 2 + other.len();
    message.extend_from_slice(&(rdlength as u16).to_be_bytes());
    message.extend_from_slice(algorithm);
    message.extend_from_slice(time);
    message.extend_from_slice(&FUDGE.to_be_bytes());
    message.extend_from_slice(&(mac.len() as u16).to_be_bytes());
    message.extend_from_slice(mac);
    message.extend_from_slice(&original_id.to_be_bytes());
    message.extend_from_slice(&error.to_be_bytes());
    message.extend_from_slice(&(other.len() as u16).to_be_bytes());
    message.extend_from_slice(other);
    if message.len() >= 12 {
        let count = u16::from_be_bytes([message[10], message[11]]).saturating_add(1);
        message[10..12].copy_from_slice(&count.to_be_bytes());
    }
}

/// The header and question of a NOTAUTH response to `request`.
fn notauth_response(request: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(&request.id.to_be_bytes());
    let opcode = u16::from(u8::from(request.op_code)) << 11;
    let rd = if request.recursion_desired { 0x0100 } else { 0 };
    out.extend_from_slice(&(0x8000 | opcode | rd | u16::from(NOTAUTH)).to_be_bytes());
    let questions = request.queries.len().min(1);
    out.extend_from_slice(&(questions as u16).to_be_bytes());
    out.extend_from_slice(&[0; 6]);
    if let Some(query) = request.queries.first() {
        use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};
        let mut question = Vec::new();
        if query.emit(&mut BinEncoder::new(&mut question)).is_ok() {
            out.extend_from_slice(&question);
        } else {
            out[4..6].copy_from_slice(&[0, 0]);
        }
    }
    out
}

/// A time as TSIG carries it: 48 bits, network order.
fn time48(now: u64) -> [u8; 6] {
    let bytes = now.to_be_bytes();
    [bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]]
}

/// The NOTAUTH answer to `request` with an unsigned TSIG record carrying `error` (BADKEY and
/// BADSIG answers must not be signed: the key is unknown or the client's MAC is wrong).
fn unsigned_error(
    request: &Message,
    key_name: &Name,
    algorithm: &TsigAlgorithm,
    original_id: u16,
    error: TsigError,
    now: u64,
) -> Vec<u8> {
    let mut out = notauth_response(request);
    append_tsig(
        &mut out,
        &wire_lowercase(key_name),
        &wire_lowercase(&algorithm.to_name()),
        &time48(now),
        &[],
        original_id,
        u16::from(error),
        &[],
    );
    out
}

/// Checks the TSIG record of `request` against `keys` at time `now`.
pub(crate) fn check(keys: &Keyring, request: &[u8], now: u64) -> Check {
    let Ok(message) = Message::from_vec(request) else {
        return Check::Unsigned;
    };
    let Some(signature) = &message.signature else {
        return Check::Unsigned;
    };
    let tsig = &signature.data;
    let key = keys
        .find(&signature.name)
        .filter(|key| key.algorithm == tsig.algorithm);
    let Some(key) = key else {
        // Unknown key or algorithm: named as the client did.
        let out = unsigned_error(
            &message,
            &signature.name,
            &tsig.algorithm,
            tsig.oid,
            TsigError::BadKey,
            now,
        );
        return Check::Rejected(out, TsigError::BadKey);
    };
    let verified = signed_bitmessage_to_buf(request, None, true)
        .ok()
        .filter(|_| !tsig.mac.is_empty())
        .is_some_and(|(tbv, _)| {
            key.algorithm
                .verify_mac(&key.secret, &tbv, &tsig.mac)
                .is_ok()
        });
    if !verified {
        let out = unsigned_error(
            &message,
            &key.name,
            &key.algorithm,
            tsig.oid,
            TsigError::BadSig,
            now,
        );
        return Check::Rejected(out, TsigError::BadSig);
    }
    let mut signer = Signer {
        key: key.clone(),
        previous_mac: tsig.mac.clone(),
        original_id: tsig.oid,
        first: true,
    };
    if now.abs_diff(tsig.time) > u64::from(tsig.fudge) {
        // Signed, carrying the server's time so the client can see the skew (RFC 8945 5.2.3).
        let mut out = notauth_response(&message);
        let other = time48(now);
        signer.sign_with(&mut out, now, Some(TsigError::BadTime), &other);
        return Check::Rejected(out, TsigError::BadTime);
    }
    Check::Signed(signer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{RecordType, TSigner};

    const KEY_FILE: &str = "# made by tsig-keygen\nkey \"xfr-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=\";\n};\n/* a second */ key other { algorithm hmac-sha512; secret \"AAAA\"; };\n";

    #[test]
    fn tsig_keygen_files_are_read() {
        let keys = parse_keys("k.conf", KEY_FILE).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0].name(), "xfr-key.");
        assert_eq!(keys[0].algorithm, TsigAlgorithm::HmacSha256);
        assert_eq!(keys[1].algorithm, TsigAlgorithm::HmacSha512);
        assert!(
            !format!("{:?}", keys[0]).contains("c2Vj"),
            "Debug hides the secret"
        );
    }

    #[test]
    fn bad_key_files_name_their_line() {
        for (text, line, words) in [
            (
                "key a {\n algorithm hmac-md5;\n secret \"AAAA\";\n};",
                1,
                "unsupported algorithm",
            ),
            (
                "key a {\n algorithm hmac-sha256;\n secret \"!!\";\n};",
                3,
                "base64",
            ),
            ("key a {\n algorithm hmac-sha256;\n};", 1, "no secret"),
            (
                "key a {\n algorithm hmac-sha256\n secret \"AAAA\";\n};",
                3,
                "expected ;",
            ),
            ("zone a {};", 1, "expected `key`"),
            ("key a {\n algorithm hmac-sha256;", 2, "end of the file"),
        ] {
            let err = parse_keys("k.conf", text)
                .map(|_| ())
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!("k.conf:{line}: ")),
                "{text:?}: {err}"
            );
            assert!(err.contains(words), "{text:?}: {err}");
        }
    }

    fn keyring() -> (Keyring, TSigner) {
        let secret = b"0123456789abcdef0123456789abcdef".to_vec();
        let key = Key::new("xfr-key", "hmac-sha256", secret.clone()).unwrap();
        let signer = TSigner::new(
            secret,
            TsigAlgorithm::HmacSha256,
            Name::from_ascii("xfr-key.").unwrap(),
            300,
        )
        .unwrap();
        (Keyring::new(vec![key]).unwrap(), signer)
    }

    fn signed_query(signer: &TSigner, time: u64) -> Vec<u8> {
        let mut message = Message::query();
        message.metadata.id = 4321;
        message.add_query(Query::query(
            Name::from_ascii("ports.test.").unwrap(),
            RecordType::AXFR,
        ));
        let (tsig, _) = signer.sign_message(&message, time).unwrap();
        message.signature = Some(tsig);
        message.to_vec().unwrap()
    }

    fn tsig_error(response: &[u8]) -> (u8, Option<TsigError>, usize) {
        let message = Message::from_vec(response).unwrap();
        let signature = message.signature.clone().expect("a TSIG record");
        (
            message.response_code.low(),
            signature.data.error,
            signature.data.mac.len(),
        )
    }

    #[test]
    fn a_good_signature_is_accepted_and_the_response_verifies() {
        let (keys, client) = keyring();
        let now = now();
        let request = signed_query(&client, now);
        let Check::Signed(mut signer) = check(&keys, &request, now) else {
            panic!("a good signature");
        };
        // Two messages of a response: the client's verifier checks the chain.
        let request_message = Message::from_vec(&request).unwrap();
        let request_mac = request_message.signature.unwrap().data.mac;
        let mut first = Message::response(4321, hickory_proto::op::OpCode::Query)
            .to_vec()
            .unwrap();
        signer.sign(&mut first, now);
        let mut second = Message::response(4321, hickory_proto::op::OpCode::Query)
            .to_vec()
            .unwrap();
        signer.sign(&mut second, now);
        let (mac1, _, _) = client
            .verify_message_byte(&first, Some(&request_mac), true)
            .expect("the first message verifies over the request MAC");
        client
            .verify_message_byte(&second, Some(&mac1), false)
            .expect("the second verifies over the first MAC and the timers");
        assert!(
            client
                .verify_message_byte(&second, Some(&request_mac), false)
                .is_err(),
            "chained to the previous MAC, not the request's"
        );
    }

    #[test]
    fn unknown_keys_bad_macs_and_skewed_clocks_are_notauth() {
        let (keys, client) = keyring();
        let now = now();
        let stranger = TSigner::new(
            b"0123456789abcdef0123456789abcdef".to_vec(),
            TsigAlgorithm::HmacSha256,
            Name::from_ascii("stranger.").unwrap(),
            300,
        )
        .unwrap();
        let Check::Rejected(response, TsigError::BadKey) =
            check(&keys, &signed_query(&stranger, now), now)
        else {
            panic!("unknown key")
        };
        assert_eq!(
            tsig_error(&response),
            (NOTAUTH, Some(TsigError::BadKey), 0),
            "unsigned"
        );
        let mut tampered = signed_query(&client, now);
        let last = tampered.len() - 10; // inside the MAC
        tampered[last] ^= 1;
        let Check::Rejected(response, TsigError::BadSig) = check(&keys, &tampered, now) else {
            panic!("bad MAC")
        };
        assert_eq!(
            tsig_error(&response),
            (NOTAUTH, Some(TsigError::BadSig), 0),
            "unsigned"
        );
        let Check::Rejected(response, TsigError::BadTime) =
            check(&keys, &signed_query(&client, now - 301), now)
        else {
            panic!("skewed clock")
        };
        assert_eq!(
            tsig_error(&response),
            (NOTAUTH, Some(TsigError::BadTime), 32),
            "signed"
        );
        assert!(matches!(
            check(&keys, &signed_query(&client, now - 299), now),
            Check::Signed(_)
        ));
        let mut unsigned = Message::query();
        unsigned.add_query(Query::query(
            Name::from_ascii("ports.test.").unwrap(),
            RecordType::SOA,
        ));
        assert!(matches!(
            check(&keys, &unsigned.to_vec().unwrap(), now),
            Check::Unsigned
        ));
    }
}
