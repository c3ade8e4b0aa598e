//! Reading flag values with errors that say what to write instead: `ADDR:PORT` with an
//! example when the port is missing, a negative number named as such (clap would take `-5`
//! for an unknown flag), and the range of every number.

use std::any::TypeId;
use std::fmt::Display;
use std::net::SocketAddr;
use std::str::FromStr;

use clap::builder::ValueParser;
use ipnet::IpNet;

/// `ADDR:PORT`, with an example in the error: `127.0.0.1:5300`, `[::1]:5300`.
pub(crate) fn socket_address() -> ValueParser {
    ValueParser::new(|text: &str| {
        text.parse::<SocketAddr>().map_err(|_| {
            let example = match text.parse::<std::net::IpAddr>() {
                Ok(ip) => SocketAddr::new(ip, 5300).to_string(),
                Err(_) => "127.0.0.1:5300 or [::1]:5300".to_owned(),
            };
            format!("not ADDR:PORT: write an IP address and a port, e.g. {example}")
        })
    })
}

/// A network for the access lists: `ADDR/PREFIX`.
pub(crate) fn network() -> ValueParser {
    ValueParser::new(|text: &str| {
        text.parse::<IpNet>()
            .map_err(|_| "not a network: write ADDR/PREFIX, e.g. 192.0.2.0/24 or 2001:db8::/32")
    })
}

/// A switch's value: `true`, `yes`, `on`, `1` or `false`, `no`, `off`, `0`, any case. A
/// switch is an `Option<bool>` like any other setting, so every layer can turn it on or off:
/// `--watch=false` beats `watch = true` in the file.
pub(crate) fn switch() -> ValueParser {
    ValueParser::new(|text: &str| match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!(
            "{text:?} is not a switch's value: write true or false"
        )),
    })
}

/// `explain`'s one argument: `-`, standard input.
pub(crate) fn standard_input() -> ValueParser {
    ValueParser::new(|text: &str| match text {
        "-" => Ok(text.to_owned()),
        _ => Err(
            "give `-` to explain the text on standard input, or nothing for this host's sockets",
        ),
    })
}

/// `command` with every flag taking a whole number read by [`whole`]: `-5` reaches the
/// parser as a value (and is refused as negative) instead of failing as an unknown flag.
pub(crate) fn whole_numbers(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| {
            let kind = arg.get_value_parser().type_id();
            let parser = if kind == TypeId::of::<u32>() {
                whole::<u32>()
            } else if kind == TypeId::of::<u64>() {
                whole::<u64>()
            } else if kind == TypeId::of::<usize>() {
                whole::<usize>()
            } else {
                return arg;
            };
            arg.allow_negative_numbers(true).value_parser(parser)
        })
        .mut_subcommands(whole_numbers)
}

/// A whole number from 0 to `T`'s largest, saying which rule a value breaks.
fn whole<T>() -> ValueParser
where
    T: FromStr + Display + Bounded + Clone + Send + Sync + 'static,
{
    ValueParser::new(|text: &str| {
        text.parse::<T>().map_err(|_| {
            let range = format!("give a whole number from 0 to {}", T::MAX);
            match text.strip_prefix('-') {
                Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("{text} is negative: {range}")
                }
                _ if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("{text} is too large: {range}")
                }
                _ => format!("{text:?} is not a number: {range}"),
            }
        })
    })
}

/// The largest value of an unsigned number type.
trait Bounded {
    const MAX: Self;
}

impl Bounded for u32 {
    const MAX: Self = u32::MAX;
}

impl Bounded for u64 {
    const MAX: Self = u64::MAX;
}

impl Bounded for usize {
    const MAX: Self = usize::MAX;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(parser: &ValueParser, text: &str) -> Result<(), String> {
        let arg = clap::Arg::new("n").long("n").value_parser(parser.clone());
        clap::Command::new("t")
            .arg(arg.allow_negative_numbers(true))
            .try_get_matches_from(["t", "--n", text])
            .map(drop)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn numbers_say_what_is_wrong_with_them() {
        let parser = whole::<u32>();
        assert_eq!(parse(&parser, "5"), Ok(()));
        let err = parse(&parser, "-5").unwrap_err();
        assert!(
            err.contains("-5 is negative: give a whole number from 0 to 4294967295"),
            "{err}"
        );
        let err = parse(&parser, "4294967296").unwrap_err();
        assert!(err.contains("is too large"), "{err}");
        let err = parse(&parser, "five").unwrap_err();
        assert!(err.contains("\"five\" is not a number"), "{err}");
    }

    #[test]
    fn an_address_without_its_port_gets_an_example() {
        let err = parse(&socket_address(), "192.0.2.1").unwrap_err();
        assert!(
            err.contains("not ADDR:PORT: write an IP address and a port, e.g. 192.0.2.1:5300"),
            "{err}"
        );
        let err = parse(&socket_address(), "::1").unwrap_err();
        assert!(err.contains("e.g. [::1]:5300"), "{err}");
        assert_eq!(parse(&socket_address(), "[::1]:53"), Ok(()));
    }
}
