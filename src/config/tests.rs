//! Flags, environment and file resolved together: precedence, errors with their lines, and
//! the example configuration files kept whole.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::Parser;

use super::resolve::ServeConfig;
use super::settings::Merge;
use super::*;
use crate::pipeline::identity::Identity;
use crate::serve::DataLocation;
use crate::sources::ServicesFile;

/// The zone settings of `flags` over those of `file`.
fn zone_over(flags: ZoneArgs, file: &ServeArgs) -> ZoneArgs {
    flags.merge(file.zone.clone())
}

#[test]
fn file_values_fill_what_flags_leave_open() {
    let file = file::parse("t.toml", "zone = \"ports.internal\"\nttl = 60\n").unwrap();
    let args = ZoneArgs {
        ttl: Some(5),
        ..ZoneArgs::default()
    };
    let (zone, data) = zone_over(args, &file).resolve_one(&[]).unwrap();
    assert_eq!(zone.display_name(), "ports.internal");
    assert_eq!(zone.ttl, 5, "the flag wins over the file");
    assert_eq!(data.location, DataLocation::Builtin);
    assert_eq!(zone.ns_addresses, [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
}

#[test]
fn services_come_from_the_flag_then_the_file_then_the_default() {
    let file = file::parse("t.toml", "services = \"/srv/services\"\n").unwrap();
    let named = |path: &str| {
        Some(ServicesFile {
            path: path.into(),
            required: true,
        })
    };
    let services = |args: ZoneArgs| args.data.resolve().services;
    assert_eq!(
        services(zone_over(ZoneArgs::default(), &file)),
        named("/srv/services")
    );
    let flag = ZoneArgs {
        data: DataArgs {
            services: Some("none".into()),
            ..DataArgs::default()
        },
        ..ZoneArgs::default()
    };
    assert_eq!(services(zone_over(flag, &file)), None);
    let default = services(ZoneArgs::default()).unwrap();
    assert_eq!(default.path, PathBuf::from("/etc/services"));
    assert!(!default.required);
}

#[test]
fn unknown_keys_name_their_line() {
    let err = file::parse("/etc/portsd/portsd.toml", "zone = \"a\"\n\nbogus = 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("/etc/portsd/portsd.toml:3: "), "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn watch_needs_a_data_directory() {
    let watching = |data: Option<&str>| ServeArgs {
        config: Some(PathBuf::from("/dev/null")),
        watch: Some(true),
        zone: ZoneArgs {
            data: DataArgs {
                data: data.map(PathBuf::from),
                ..DataArgs::default()
            },
            ..ZoneArgs::default()
        },
        ..ServeArgs::default()
    };
    let config = watching(Some("/srv/portsd")).resolve().unwrap();
    assert_eq!(config.watch, Some(PathBuf::from("/srv/portsd")));
    let err = watching(None).resolve().unwrap_err().to_string();
    assert!(err.starts_with("--watch needs a data directory"), "{err}");
    assert!(!err.contains('\n'), "{err}");
}

#[test]
fn identity_comes_from_flags_then_the_file_then_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portsd.toml");
    std::fs::write(
        &path,
        "identity = \"from-file\"\nversion_string = \"none\"\nnsid = \"6e7331\"\n",
    )
    .unwrap();
    let args = |config: &Path, nsid: Option<&str>| ServeArgs {
        config: Some(config.to_owned()),
        nsid: nsid.map(str::to_owned),
        ..ServeArgs::default()
    };
    let identity = args(&path, None)
        .resolve()
        .unwrap()
        .settings
        .policy
        .identity;
    assert_eq!(identity.identity.as_deref(), Some("from-file"));
    assert_eq!(identity.version, None, "none hides it");
    assert_eq!(identity.nsid.as_deref(), Some(&b"ns1"[..]));
    let flag = args(&path, Some("ascii_flag")).resolve().unwrap();
    assert_eq!(
        flag.settings.policy.identity.nsid.as_deref(),
        Some(&b"flag"[..])
    );
    let defaults = args(Path::new("/dev/null"), None).resolve().unwrap();
    assert_eq!(defaults.settings.policy.identity, Identity::default());
    let err = args(&path, Some("ns1")).resolve().unwrap_err().to_string();
    assert!(
        err.starts_with("--nsid \"ns1\": expected hex digits"),
        "{err}"
    );
}

#[test]
fn ns_address_defaults_to_the_listen_address() {
    let listen: Vec<SocketAddr> = vec!["192.0.2.7:53".parse().unwrap()];
    let (zone, _) = ZoneArgs::default().resolve_one(&listen).unwrap();
    assert_eq!(zone.ns_addresses, ["192.0.2.7".parse::<IpAddr>().unwrap()]);
}

#[test]
fn the_command_line_wins_over_the_file_and_the_file_over_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portsd.toml");
    std::fs::write(
        &path,
        "ttl = 60\nzone = \"ports.internal\"\nrate_limit_exempt = []\n",
    )
    .unwrap();
    let config = path.to_str().unwrap();
    let cli = Cli::try_parse_from(["portsd", "serve", "--config", config, "--ttl", "5"]).unwrap();
    let Command::Serve(args) = cli.command else {
        panic!("not serve")
    };
    let config = args.0.resolve().unwrap();
    assert_eq!(config.zones[0].ttl, 5, "the flag wins over the file");
    assert_eq!(config.zones[0].display_name(), "ports.internal");
    assert!(
        config.settings.policy.rate_limit.exempt.is_empty(),
        "the file's empty list"
    );
    assert_eq!(config.listen, [settings::DEFAULT_LISTEN], "the default");
    assert_eq!(config.settings.tcp.max_connections, 256);
}

#[test]
fn errors_in_the_file_name_their_line() {
    for (text, line) in [
        ("zone = \"a\"\nttl = \"x\"\n", 2),
        ("\n\nservices = 1\n", 3),
        ("listen = [\"127.0.0.1:53\"]\nlisten_x = 1\nbogus = 2\n", 2),
        ("zone = ", 1),
    ] {
        let err = file::parse("t.toml", text).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("t.toml:{line}: ")),
            "{text:?}: {err}"
        );
    }
}

#[test]
fn the_file_accepts_the_flags_names_and_its_inline_keys() {
    let keys = file::keys();
    for key in [
        "listen",
        "zone",
        "ttl",
        "data",
        "services",
        "ns_address",
        "udp_threads",
    ] {
        assert!(keys.contains(&key), "{key} in {keys:?}");
    }
    assert!(keys.contains(&"tsig_keys"), "the file's inline keys");
    assert!(
        !keys.contains(&"config"),
        "the file does not name another file"
    );
}

/// Both example configurations mention every key the file accepts, set or commented out
/// (`# key = ...`), so that what a reader sees there is all there is.
#[test]
fn the_example_configurations_name_every_key() {
    for example in ["deploy/portsd.toml", "deploy/debian/portsd.toml"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(example);
        let text = std::fs::read_to_string(&path).unwrap();
        let named: Vec<&str> = text
            .lines()
            .filter_map(|line| line.trim_start_matches(['#', ' ']).split_once('='))
            .map(|(key, _)| key.trim())
            .collect();
        let missing: Vec<&str> = file::keys()
            .iter()
            .copied()
            .filter(|key| !named.contains(key))
            .collect();
        assert!(missing.is_empty(), "{example} lacks {missing:?}");
        file::parse(example, &text).unwrap();
    }
}

/// `serve`'s settings from `flags` (after `portsd serve`) over a configuration file holding
/// `file`. The environment's layer is tested on the binary (tests/binary/mistakes.rs), where
/// each run has its own variables.
fn serve_config(flags: &[&str], file: &str) -> Result<ServeConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("portsd.toml");
    std::fs::write(&path, file).unwrap();
    let config = ["--config", path.to_str().unwrap()];
    let argv = ["portsd", "serve"].iter().chain(&config).chain(flags);
    let Command::Serve(args) = Cli::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .command
    else {
        panic!("not serve")
    };
    args.0.resolve().map_err(|e| e.to_string())
}

#[test]
fn a_switch_is_set_and_unset_by_the_flag_and_the_file() {
    // (flags, file) -> on
    let cases: [(&[&str], &str, bool); 10] = [
        (&[], "", false),
        (&[], "log_queries = true", true),
        (&[], "log_queries = false", false),
        (&["--log-queries"], "", true),
        (&["--log-queries"], "log_queries = false", true),
        (&["--log-queries=false"], "log_queries = true", false),
        (&["--log-queries=no"], "log_queries = true", false),
        (&["--log-queries=on"], "log_queries = false", true),
        (&["--log-queries=0"], "log_queries = true", false),
        (&["--log-queries=1"], "", true),
    ];
    for (flags, file, on) in cases {
        let config = serve_config(flags, file).unwrap();
        assert_eq!(
            config.settings.policy.log_queries, on,
            "flags {flags:?}, file {file:?}"
        );
    }
}

#[test]
fn watch_set_in_the_file_is_turned_off_by_a_flag() {
    let file = "watch = true\ndata = \"/srv/portsd\"\n";
    let watch = |flags: &[&str]| serve_config(flags, file).map(|c| c.watch);
    assert_eq!(watch(&[]), Ok(Some(PathBuf::from("/srv/portsd"))));
    assert_eq!(watch(&["--watch=false"]), Ok(None));
    let err = watch(&["--watch=maybe"]).unwrap_err();
    assert!(err.contains("maybe"), "{err}");
}

#[test]
fn the_catalog_is_named_by_flag_or_file_and_may_not_overlap_the_zone() {
    let named = |flags: &[&str], file: &str| {
        serve_config(flags, file).map(|config| config.settings.catalog.map(|labels| labels.len()))
    };
    assert_eq!(named(&[], ""), Ok(None), "none by default");
    assert_eq!(named(&["--catalog", "Catalog.Invalid."], ""), Ok(Some(2)));
    assert_eq!(named(&[], "catalog = \"catalog.invalid\"\n"), Ok(Some(2)));
    for (zone, catalog) in [
        ("ports.local", "ports.local"),
        ("ports.local", "catalog.ports.local"),
        ("ports.local", "local"),
    ] {
        let error = named(&["--zone", zone, "--catalog", catalog], "").unwrap_err();
        assert!(
            error.contains("--catalog") && error.contains(zone),
            "{zone} {catalog}: {error}"
        );
    }
}
