//! The config's unit tests: parsing, defaults, validation messages.

use super::*;

#[test]
fn defaults_round_trip_through_toml() {
    let text = toml::to_string(&Config::default()).unwrap();
    let parsed = Config::parse(&text).unwrap();
    assert_eq!(parsed.idle_timeout, Duration::from_secs(10));
    assert_eq!(parsed.max_body_size, 32 << 20);
    assert_eq!(parsed.keep_resident, 2 << 20);
    assert!(text.contains("keep-resident = 2097152"), "{text}");
}

#[test]
fn an_admin_listener_off_loopback_needs_a_token() {
    let mut config = Config::parse("admin-listen = \"0.0.0.0:9787\"").unwrap();
    let error = config.check_admin_exposure().unwrap_err().to_string();
    assert!(
        error.contains("0.0.0.0:9787 is not a loopback address"),
        "{error}"
    );
    assert!(error.contains("WDO_ADMIN_TOKEN"), "{error}");
    config.admin_token = Some("x".repeat(16));
    assert!(config.check_admin_exposure().is_ok());
    let ipv6 = Config::parse("admin-listen = \"[::]:9787\"").unwrap();
    assert!(ipv6.check_admin_exposure().is_err());
    let local = Config::parse("admin-listen = \"[::1]:9787\"").unwrap();
    assert!(local.check_admin_exposure().is_ok());
}

#[test]
fn an_admin_token_is_long_and_visible_and_never_printed_back() {
    for bad in ["short", "has a space in the middle!", ""] {
        let error = Config::parse(&format!("admin-token = {bad:?}")).unwrap_err();
        assert!(error.to_string().contains("at least 16"), "{error}");
    }
    let config = Config::parse("admin-token = \"0123456789abcdef\"").unwrap();
    assert_eq!(config.admin_token.as_deref(), Some("0123456789abcdef"));
    let printed = toml::to_string(&config).unwrap();
    assert!(!printed.contains("0123456789abcdef"), "{printed}");
}

#[test]
fn humantime_durations_and_namespaces_parse() {
    let config = Config::parse(
        r#"
        idle-timeout = "500ms"
        [[namespace]]
        name = "counter"
        component = "c.wasm"
        durability = "relaxed"
        cpu-limit = "2s"
        "#,
    )
    .unwrap();
    assert_eq!(config.idle_timeout, Duration::from_millis(500));
    assert_eq!(config.namespaces[0].durability, Durability::Relaxed);
    assert_eq!(config.namespaces[0].cpu_limit, Duration::from_secs(2));
    assert_eq!(config.namespaces[0].memory_limit, 128 << 20);
    assert_eq!(config.namespaces[0].max_database_size, 10 << 30);
}

#[test]
fn max_database_size_is_bytes_with_a_floor() {
    let config =
        Config::parse("[[namespace]]\nname = \"a\"\ncomponent = \"x\"\nmax-database-size = 65536")
            .unwrap();
    assert_eq!(config.namespaces[0].max_database_size, 65536);
    let err =
        Config::parse("[[namespace]]\nname = \"a\"\ncomponent = \"x\"\nmax-database-size = 1024")
            .unwrap_err()
            .to_string();
    assert!(err.contains("max-database-size"), "{err}");
}

#[test]
fn unknown_fields_and_bad_names_are_rejected_with_the_field_named() {
    let err = Config::parse("idle-timout = \"1s\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("idle-timout"), "{err}");
    let err = Config::parse("[[namespace]]\nname = \"Bad Name\"\ncomponent = \"x\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("Bad Name"), "{err}");
    let err = Config::parse("idle-timeout = \"soon\"")
        .unwrap_err()
        .to_string();
    assert!(err.contains("idle-timeout"), "{err}");
}

#[test]
fn migrations_parse_in_both_spellings_and_tags_are_unique() {
    let config = Config::parse(
        r#"
        [[migrations]]
        tag = "v1"
        new_sqlite_classes = ["Counter"]
        [[migrations]]
        tag = "v2"
        renamed-classes = [{ from = "Counter", to = "Tally" }]
        deleted_classes = ["Old"]
        "#,
    )
    .unwrap();
    assert_eq!(config.migrations[0].new_sqlite_classes, ["Counter"]);
    assert_eq!(
        config.migrations[1].renamed_classes,
        [RenamedClass {
            from: "Counter".into(),
            to: "Tally".into()
        }]
    );
    assert_eq!(config.migrations[1].deleted_classes, ["Old"]);
    let twice = "[[migrations]]\ntag = \"v1\"\n[[migrations]]\ntag = \"v1\"";
    let err = Config::parse(twice).unwrap_err().to_string();
    assert!(err.contains("\"v1\" is used twice"), "{err}");
    let err = Config::parse("[[migrations]]\ntag = \"v1\"\nrenamed = []")
        .unwrap_err()
        .to_string();
    assert!(err.contains("renamed"), "{err}");
}

#[test]
fn duplicate_namespaces_are_rejected() {
    let text = "[[namespace]]\nname = \"a\"\ncomponent = \"x\"\n[[namespace]]\nname = \"a\"\ncomponent = \"y\"";
    assert!(Config::parse(text)
        .unwrap_err()
        .to_string()
        .contains("twice"));
}

#[test]
fn the_commit_log_and_checkpoint_sizes_are_bounded_saying_what_is_allowed() {
    let config = Config::parse("checkpoint-pages = 16").unwrap();
    assert_eq!(config.checkpoint_pages, 16);
    assert_eq!(Config::default().checkpoint_pages, 1000);
    for bad in ["checkpoint-pages = 15", "checkpoint-pages = 1000001"] {
        let error = Config::parse(bad).unwrap_err().to_string();
        assert!(
            error.contains("checkpoint-pages must be from 16 to 1000000"),
            "{error}"
        );
    }
    let error = Config::parse("log-segment-size = 1024")
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("log-segment-size must be from 65536"),
        "{error}"
    );
}
