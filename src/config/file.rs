//! The configuration file: TOML whose keys are the flags' long names with `_`, read into the
//! same structs as the flags. Unknown keys are rejected with the file's line.
//!
//! The file is flat while the flags come in groups (`serve` takes the zone's flags, which take
//! the data's), and serde cannot both flatten and reject unknown keys with their lines. So each
//! group reads its own keys from the same text, and the keys are checked against the union of
//! the groups' fields.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use serde::de::{DeserializeOwned, IgnoredAny, Visitor};
use serde::{Deserializer, forward_to_deserialize_any};

use super::error::ConfigError;
use super::settings::{DataArgs, ServeArgs, ZoneArgs};
use crate::file_error::FileError;

/// Reads `path`; `None` when the file is not `required` and does not exist.
pub(crate) fn read(path: &Path, required: bool) -> Result<Option<ServeArgs>, ConfigError> {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ConfigError::Read(file, e)),
    };
    parse(&file, &text).map(Some)
}

/// Parses TOML text, naming `file` and the line in errors.
pub(crate) fn parse(file: &str, text: &str) -> Result<ServeArgs, ConfigError> {
    let at = |offset: usize, reason: &str| {
        ConfigError::Parse(FileError::at_offset(file, text, offset, reason))
    };
    let toml_error =
        |e: toml::de::Error| at(e.span().map_or(0, |span| span.start), &plain(e.message()));
    let table: BTreeMap<toml::Spanned<String>, IgnoredAny> =
        toml::from_str(text).map_err(toml_error)?;
    let unknown = table
        .keys()
        .filter(|key| !keys().contains(&key.get_ref().as_str()))
        .min_by_key(|key| key.span().start);
    if let Some(key) = unknown {
        return Err(at(key.span().start, &unknown_key(key.get_ref())));
    }
    let mut settings: ServeArgs = toml::from_str(text).map_err(toml_error)?;
    settings.zone = toml::from_str(text).map_err(toml_error)?;
    settings.zone.data = toml::from_str(text).map_err(toml_error)?;
    Ok(settings)
}

/// A value's error in the words the flags use: what to write instead of what the parser
/// expected (`ADDR:PORT` for an address, a whole number for `u32`).
fn plain(message: &str) -> String {
    match message {
        "invalid socket address syntax" => {
            "not ADDR:PORT: write an IP address and a port, e.g. \"127.0.0.1:5300\"".to_owned()
        }
        "invalid IP address syntax" => {
            "not a network: write ADDR/PREFIX, e.g. \"192.0.2.0/24\" or \"2001:db8::/32\""
                .to_owned()
        }
        _ => match message.split_once(", expected ") {
            Some((found, "u32" | "u64" | "usize")) => {
                format!("{found}, expected a whole number (no quotes), e.g. 60")
            }
            _ => message.to_owned(),
        },
    }
}

/// What to say of a key the file does not accept: the nearest key when one is close enough
/// to be a typo of it, else where the keys are listed.
fn unknown_key(key: &str) -> String {
    let nearest = keys()
        .iter()
        .map(|known| (strsim::jaro_winkler(key, known), known))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score > 0.8);
    match nearest {
        Some((_, known)) => format!("unknown key `{key}`, did you mean `{known}`?"),
        None => format!(
            "unknown key `{key}`: the keys are the flags of `portsd serve --help` with `_` \
             for `-` (docs/settings.md)"
        ),
    }
}

/// Every key the file accepts, in the order the structs declare them.
pub(crate) fn keys() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            fields::<ServeArgs>(),
            fields::<ZoneArgs>(),
            fields::<DataArgs>(),
        ]
        .concat()
    })
}

/// The fields serde's derive reads for `T` (less the skipped ones): `T` is asked to read
/// itself from a deserializer that only records the list it is handed.
fn fields<T: DeserializeOwned>() -> &'static [&'static str] {
    match T::deserialize(FieldProbe) {
        Err(Probe(fields)) => fields,
        Ok(_) => &[],
    }
}

/// A deserializer that answers every request with an error carrying the struct's fields.
struct FieldProbe;

/// What [`FieldProbe`] reports: the fields of the struct asked for, none for anything else.
#[derive(Debug)]
struct Probe(&'static [&'static str]);

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fields {:?}", self.0)
    }
}

impl std::error::Error for Probe {}

impl serde::de::Error for Probe {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Probe(&[])
    }
}

impl<'de> Deserializer<'de> for FieldProbe {
    type Error = Probe;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Probe> {
        Err(Probe(&[]))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Probe> {
        Err(Probe(fields))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}
