//! The parser for `local.tsv`, the site's own ports: entries an organisation publishes about its
//! network ("8443/tcp billing-api, payments team"), answered first and marked `Local`.

use super::common::{DataError, normalise_space, port_and_protocol, rows};
use crate::core::model::{Entry, Source, Status};

/// Parses `local.tsv`: `#` comments and blank lines, then rows of four tab-separated columns:
/// port or range, protocol, service name or `-`, description.
pub(crate) fn parse(file: &str, text: &str, problems: &mut Vec<DataError>) -> Vec<Entry> {
    rows(file, text, problems, parse_row)
}

fn parse_row(line: &str) -> Result<Entry, String> {
    let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
    let [port, protocol, service, description] = cells[..] else {
        return Err(format!(
            "expected 4 tab-separated columns, found {}",
            cells.len()
        ));
    };
    let (ports, protocol) = port_and_protocol(port, protocol)?;
    let service = match service {
        "-" => None,
        name if !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains('.') => {
            Some(name.to_owned())
        }
        name => return Err(format!("bad service name {name:?} (one DNS label, or -)")),
    };
    Ok(Entry {
        ports,
        protocol,
        status: Status::Local,
        service,
        aliases: Vec::new(),
        description: normalise_space(description),
        sources: Source::Local.bit(),
        registry: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{PortSpan, Protocol};

    #[test]
    fn rows_and_problems() {
        let text = "# port\tprotocol\tservice\tdescription\n\n8443\ttcp\tbilling-api\tBilling API, payments team\n\
                    9000-9009\tUDP\t-\tlab  telemetry\n8080\ticmp\t-\tx\n8081\ttcp\tx\n70000\ttcp\t-\tx\n8082\ttcp\ta b\tx\n";
        let mut problems = Vec::new();
        let entries = parse("local.tsv", text, &mut problems);
        assert_eq!(
            entries,
            [
                Entry {
                    ports: PortSpan {
                        first: 8443,
                        last: 8443,
                    },
                    protocol: Protocol::Tcp,
                    status: Status::Local,
                    service: Some("billing-api".into()),
                    aliases: Vec::new(),
                    description: "Billing API, payments team".into(),
                    sources: Source::Local.bit(),
                    registry: None,
                },
                Entry {
                    ports: PortSpan {
                        first: 9000,
                        last: 9009
                    },
                    protocol: Protocol::Udp,
                    status: Status::Local,
                    service: None,
                    aliases: Vec::new(),
                    description: "lab telemetry".into(),
                    sources: Source::Local.bit(),
                    registry: None,
                },
            ]
        );
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "local.tsv:5: unknown protocol \"icmp\" (expected tcp, udp, sctp or dccp)",
                "local.tsv:6: expected 4 tab-separated columns, found 3",
                "local.tsv:7: bad port or range \"70000\"",
                "local.tsv:8: bad service name \"a b\" (one DNS label, or -)",
            ]
        );
    }
}
