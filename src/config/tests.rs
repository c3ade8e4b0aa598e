//! Flags, environment and file resolved together: precedence, errors with their lines.

use super::*;

#[test]
fn file_values_fill_what_flags_leave_open() {
    let file = FileConfig::parse("t.toml", "zone = \"ports.internal\"\nttl = 60\n").unwrap();
    let args = ZoneArgs {
        ttl: Some(5),
        ..ZoneArgs::default()
    };
    let (zone, data) = resolve_zone(&args, &file, &[]).unwrap();
    assert_eq!(zone.display_name(), "ports.internal");
    assert_eq!(zone.ttl, 5, "the flag wins over the file");
    assert_eq!(data, DataLocation::Builtin);
    assert_eq!(zone.ns_addresses, [IpAddr::V4(Ipv4Addr::LOCALHOST)]);
}

#[test]
fn services_come_from_the_flag_then_the_file_then_the_default() {
    let file = FileConfig::parse("t.toml", "services = \"/srv/services\"\n").unwrap();
    let named = |path: &str| {
        Some(ServicesFile {
            path: path.into(),
            required: true,
        })
    };
    assert_eq!(
        resolve_services(&ZoneArgs::default(), &file),
        named("/srv/services")
    );
    let flag = ZoneArgs {
        services: Some("none".into()),
        ..ZoneArgs::default()
    };
    assert_eq!(resolve_services(&flag, &file), None);
    let default = resolve_services(&ZoneArgs::default(), &FileConfig::default()).unwrap();
    assert_eq!(default.path, PathBuf::from("/etc/services"));
    assert!(!default.required);
}

#[test]
fn unknown_keys_name_their_line() {
    let err = FileConfig::parse("/etc/portsd/portsd.toml", "zone = \"a\"\n\nbogus = 1\n")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("/etc/portsd/portsd.toml:3: "), "{err}");
    assert!(err.contains("bogus"), "{err}");
}

#[test]
fn watch_needs_a_data_directory() {
    let watching = |data: Option<&str>| ServeArgs {
        config: Some(PathBuf::from("/dev/null")),
        watch: true,
        zone: ZoneArgs {
            data: data.map(PathBuf::from),
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
    let identity = args(&path, None).resolve().unwrap().policy.identity;
    assert_eq!(identity.identity.as_deref(), Some("from-file"));
    assert_eq!(identity.version, None, "none hides it");
    assert_eq!(identity.nsid.as_deref(), Some(&b"ns1"[..]));
    let flag = args(&path, Some("ascii_flag")).resolve().unwrap();
    assert_eq!(flag.policy.identity.nsid.as_deref(), Some(&b"flag"[..]));
    let defaults = args(Path::new("/dev/null"), None).resolve().unwrap();
    assert_eq!(defaults.policy.identity, Identity::default());
    let err = args(&path, Some("ns1")).resolve().unwrap_err().to_string();
    assert!(
        err.starts_with("--nsid \"ns1\": expected hex digits"),
        "{err}"
    );
}

#[test]
fn ns_address_defaults_to_the_listen_address() {
    let listen: Vec<SocketAddr> = vec!["192.0.2.7:53".parse().unwrap()];
    let (zone, _) = resolve_zone(&ZoneArgs::default(), &FileConfig::default(), &listen).unwrap();
    assert_eq!(zone.ns_addresses, ["192.0.2.7".parse::<IpAddr>().unwrap()]);
}
