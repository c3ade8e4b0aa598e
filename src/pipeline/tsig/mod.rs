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

mod key;
mod key_file;
#[cfg(test)]
pub(crate) mod tests;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hickory_proto::rr::rdata::tsig::TsigError;

use crate::wire::compress::Writer;
use crate::wire::tsig::{Fields, TsigRecord, append, time48, variables};
use crate::wire::{Flags, Request, ResponseCode};

use key::FUDGE;
pub(crate) use key::{Key, Keyring};
pub(crate) use key_file::{KeyFileError, parse_keys, read_key_file};

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
    /// The bytes [`Self::sign`] appends: what a response must leave free within its size limit.
    pub(crate) fn room(&self) -> usize {
        self.key.record_len
    }

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
        let algorithm = &key.algorithm_wire;
        let mut tbs = Vec::with_capacity(message.len() + 200);
        tbs.extend_from_slice(&(self.previous_mac.len() as u16).to_be_bytes());
        tbs.extend_from_slice(&self.previous_mac);
        tbs.extend_from_slice(message);
        let time = time48(now);
        let error = error.map_or(0, u16::from);
        if self.first {
            variables(
                &mut tbs,
                &key.name_wire,
                algorithm,
                &time,
                FUDGE,
                error,
                other,
            );
        } else {
            tbs.extend_from_slice(&time);
            tbs.extend_from_slice(&FUDGE.to_be_bytes());
        }
        // The algorithms a key can hold are the ones hickory computes.
        let mac = key
            .algorithm
            .mac_data(&key.secret, &tbs)
            .unwrap_or_default();
        append(
            message,
            &Fields {
                key_name: &key.name_wire,
                algorithm,
                time,
                fudge: FUDGE,
                mac: &mac,
                original_id: self.original_id,
                error,
                other,
            },
        );
        self.previous_mac = mac;
        self.first = false;
    }
}

/// The header and question of a NOTAUTH response to `request`.
fn notauth_response(request: &Request<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    let question = request.question().map_or(&[][..], |q| q.bytes);
    let questions = u16::from(!question.is_empty());
    // The opcode and RD are echoed, not CD.
    let header = request.response_header().without(Flags::CD);
    let header = header.rcode(ResponseCode::NotAuth);
    Writer::begin(&mut out, header, [questions, 0, 0, 0], question, usize::MAX);
    out
}

/// The NOTAUTH answer to `request` with an unsigned TSIG record carrying `error` (BADKEY and
/// BADSIG answers must not be signed: the key is unknown or the client's MAC is wrong).
fn unsigned_error(
    request: &Request<'_>,
    tsig: &TsigRecord<'_>,
    error: TsigError,
    now: u64,
) -> Vec<u8> {
    let mut out = notauth_response(request);
    append(
        &mut out,
        &Fields {
            key_name: &tsig.key_name,
            algorithm: &tsig.algorithm,
            time: time48(now),
            fudge: FUDGE,
            mac: &[],
            original_id: tsig.original_id,
            error: u16::from(error),
            other: &[],
        },
    );
    out
}

/// Checks the TSIG record of `request` against `keys` at time `now`, from the view alone: no
/// message is parsed again.
pub(crate) fn check(keys: &Keyring, request: &Request<'_>, now: u64) -> Check {
    let Some(tsig) = TsigRecord::read(request) else {
        return Check::Unsigned;
    };
    let key = keys
        .find(&tsig.key_name)
        .filter(|key| key.algorithm_wire == tsig.algorithm);
    let Some(key) = key else {
        // Unknown key or algorithm: named as the client did.
        let out = unsigned_error(request, &tsig, TsigError::BadKey, now);
        return Check::Rejected(out, TsigError::BadKey);
    };
    let verified = !tsig.mac.is_empty()
        && key
            .algorithm
            .verify_mac(&key.secret, &tsig.covered(request), tsig.mac)
            .is_ok();
    if !verified {
        let out = unsigned_error(request, &tsig, TsigError::BadSig, now);
        return Check::Rejected(out, TsigError::BadSig);
    }
    let mut signer = Signer {
        key: key.clone(),
        previous_mac: tsig.mac.to_vec(),
        original_id: tsig.original_id,
        first: true,
    };
    if now.abs_diff(tsig.time) > u64::from(tsig.fudge) {
        // Signed, carrying the server's time so the client can see the skew (RFC 8945 5.2.3).
        let mut out = notauth_response(request);
        let other = time48(now);
        signer.sign_with(&mut out, now, Some(TsigError::BadTime), &other);
        return Check::Rejected(out, TsigError::BadTime);
    }
    Check::Signed(signer)
}
