//! The parser for `vendor-ports.tsv`, the ports of widely deployed software as each vendor's own
//! documentation states them (Kubernetes' kubelet on 10250, OTLP on 4317 and 4318, ...), and
//! how its rows join the other sources: each is a use of its own, `Unofficial` unless IANA
//! assigns its service name to the same port and protocol.

use super::common::{DataError, normalise_space, port_and_protocol, rows};
use crate::core::model::{Entry, Source, Status};

/// Parses `vendor-ports.tsv`: `#` comments and blank lines, then rows of five tab-separated
/// columns: port or range, protocol, service name or `-`, description, and the URL of the
/// vendor's page stating the port.
pub(crate) fn parse(file: &str, text: &str, problems: &mut Vec<DataError>) -> Vec<Entry> {
    rows(file, text, problems, parse_row)
}

fn parse_row(line: &str) -> Result<Entry, String> {
    let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
    let [port, protocol, service, description, url] = cells[..] else {
        return Err(format!(
            "expected 5 tab-separated columns (port, protocol, service, description, URL), \
             found {}",
            cells.len()
        ));
    };
    let (ports, protocol) = port_and_protocol(port, protocol)?;
    let service = match service {
        "-" => None,
        name if !name.is_empty()
            && name.len() <= 63
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') =>
        {
            Some(name.to_owned())
        }
        name => {
            return Err(format!(
                "bad service name {name:?} (letters, digits and hyphens, one DNS label, or -)"
            ));
        }
    };
    if description.is_empty() {
        return Err("empty description".to_owned());
    }
    let web = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    if web.is_none_or(|rest| rest.is_empty() || rest.contains(char::is_whitespace)) {
        return Err(format!(
            "bad source {url:?}: the URL of the vendor's page that states the port"
        ));
    }
    Ok(Entry {
        ports,
        protocol,
        status: Status::Unofficial,
        service,
        aliases: Vec::new(),
        description: normalise_space(description),
        sources: Source::Vendor.bit(),
        registry: None,
    })
}

/// Adds the vendor's rows to the merged entries, each a use of its own: `Unofficial`, unless
/// an IANA entry carries the row's service name (any case) on the same port or range and
/// protocol, whose status the row then takes (IANA assigns it).
pub(crate) fn join(entries: &mut Vec<Entry>, vendor: Vec<Entry>) {
    for mut row in vendor {
        let assigned = entries.iter().find(|e| {
            e.has_source(Source::Iana)
                && e.ports == row.ports
                && e.protocol == row.protocol
                && e.service
                    .as_deref()
                    .zip(row.service.as_deref())
                    .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        });
        if let Some(entry) = assigned {
            row.status = entry.status;
        }
        entries.push(row);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::model::{PortSpan, Protocol};

    #[test]
    fn rows_and_problems() {
        let text = "# comment\n\n10250\ttcp\tkubelet\tKubernetes  kubelet API\thttps://kubernetes.io/x\n\
                    30000-32767\tTCP\t-\tNodePorts\thttp://example.org/p\n\
                    1\ttcp\tx\ty\n\
                    70000\ttcp\t-\tx\thttps://a\n\
                    1\ticmp\t-\tx\thttps://a\n\
                    1\ttcp\ta.b\tx\thttps://a\n\
                    1\ttcp\t-\t\thttps://a\n\
                    1\ttcp\t-\tx\tftp://a\n\
                    1\ttcp\t-\tx\thttps://\n";
        let mut problems = Vec::new();
        let entries = parse("vendor-ports.tsv", text, &mut problems);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].service.as_deref(), Some("kubelet"));
        assert_eq!(entries[0].description, "Kubernetes kubelet API");
        assert_eq!(entries[0].status, Status::Unofficial);
        assert_eq!(entries[0].sources, Source::Vendor.bit());
        assert_eq!(entries[1].ports.to_string(), "30000-32767");
        assert_eq!(entries[1].service, None);
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(
            problems,
            [
                "vendor-ports.tsv:5: expected 5 tab-separated columns (port, protocol, service, \
                 description, URL), found 4",
                "vendor-ports.tsv:6: bad port or range \"70000\"",
                "vendor-ports.tsv:7: unknown protocol \"icmp\" (expected tcp, udp, sctp or dccp)",
                "vendor-ports.tsv:8: bad service name \"a.b\" (letters, digits and hyphens, one \
                 DNS label, or -)",
                "vendor-ports.tsv:9: empty description",
                "vendor-ports.tsv:10: bad source \"ftp://a\": the URL of the vendor's page that \
                 states the port",
                "vendor-ports.tsv:11: bad source \"https://\": the URL of the vendor's page that \
                 states the port",
            ]
        );
    }

    #[test]
    fn rows_take_the_iana_status_of_their_name_only() {
        let entry = |service: &str, source: Source, status: Status| Entry {
            ports: PortSpan::single(6379),
            protocol: Protocol::Tcp,
            status,
            service: Some(service.into()),
            aliases: Vec::new(),
            description: format!("{service} by {source:?}"),
            sources: source.bit(),
            registry: None,
        };
        let mut entries = vec![entry("redis", Source::Iana, Status::Assigned)];
        join(
            &mut entries,
            vec![
                entry("REDIS", Source::Vendor, Status::Unofficial),
                entry("other", Source::Vendor, Status::Unofficial),
            ],
        );
        let got: Vec<(&str, Status, &str)> = entries
            .iter()
            .map(|e| {
                (
                    e.service.as_deref().unwrap_or("-"),
                    e.status,
                    e.description.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("redis", Status::Assigned, "redis by Iana"),
                ("REDIS", Status::Assigned, "REDIS by Vendor"),
                ("other", Status::Unofficial, "other by Vendor"),
            ]
        );
    }
}
