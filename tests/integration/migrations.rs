//! `[[migrations]]` through the real binary: a renamed class keeps its data (objects, the id
//! key, so names find the same objects, and the alarm index), a deleted class's data is
//! removed, applied migrations are not applied again, and a namespace with data that left
//! the config stops the start.

use serde_json::json;

use crate::harness::{Options, Server};

/// Declares both classes the tests rename, then renames them.
const RENAME: &str = r#"
[[migrations]]
tag = "v1"
new_classes = ["Counter", "Probe"]

[[migrations]]
tag = "v2"
renamed_classes = [{ from = "Counter", to = "Tally" }, { from = "Probe", to = "Sonde" }]
"#;

/// The default namespaces with `from` renamed `to` (or left out if `to` is None).
fn renamed(options: &mut Options, from: &str, to: Option<&str>) {
    match to {
        Some(to) => {
            for (name, _) in &mut options.namespaces {
                if name == from {
                    *name = to.to_string();
                }
            }
        }
        None => options.namespaces.retain(|(name, _)| name != from),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn data_follows_a_renamed_class_and_the_same_config_again_changes_nothing() {
    let mut server = Server::start();
    server.get("/counter/alice/increment").await;
    assert_eq!(
        server.get("/counter/alice/increment").await,
        (200, json!({"count": 2}))
    );
    let (_, set) = server.get("/probe/late/alarm/set?in=3600000").await;
    let scheduled = set["scheduled"].as_u64().unwrap();

    server.options.extra = RENAME.into();
    renamed(&mut server.options, "counter", Some("tally"));
    renamed(&mut server.options, "probe", Some("sonde"));
    server.restart();
    assert!(server.log().contains("applied migrations \"v1\", \"v2\""));
    // The id key moved too: the name finds the same object.
    assert_eq!(
        server.get("/tally/alice/get").await,
        (200, json!({"count": 2}))
    );
    assert_eq!(server.get("/counter/alice/get").await.0, 404);
    // The alarm index moved with it: the scheduler knows the alarm under the new name.
    assert_eq!(
        server
            .metric("wdo_alarms_scheduled{namespace=\"sonde\"}")
            .await,
        1.0
    );
    assert_eq!(
        server.get("/sonde/late/alarm/get").await.1,
        json!({"alarm": scheduled})
    );

    server.restart();
    assert_eq!(server.log().matches("applied migrations").count(), 1);
    assert_eq!(
        server.get("/tally/alice/increment").await,
        (200, json!({"count": 3}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_class_loses_its_data() {
    let mut server = Server::start();
    server.get("/counter/bob/increment").await;
    let all = server.options.namespaces.clone();
    server.options.extra = "[[migrations]]\ntag = \"v1\"\ndeleted_classes = [\"Counter\"]\n".into();
    renamed(&mut server.options, "counter", None);
    server.restart();
    assert!(!server.dir.path().join("data/counter").exists());
    // Declared again later, the namespace starts empty.
    server.options.namespaces = all;
    server.restart();
    assert_eq!(
        server.get("/counter/bob/get").await,
        (200, json!({"count": 0}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_with_data_left_out_of_the_config_stops_the_start() {
    let mut server = Server::start();
    server.get("/counter/carol/increment").await;
    let all = server.options.namespaces.clone();
    renamed(&mut server.options, "counter", None);
    let log = server.restart_refused();
    assert!(log.contains("namespace \"counter\" has data in"), "{log}");
    assert!(log.contains("deleted_classes = [\"counter\"]"), "{log}");
    // Nothing was lost: declared again, it serves its data.
    server.options.namespaces = all;
    server.restart();
    assert_eq!(
        server.get("/counter/carol/get").await,
        (200, json!({"count": 1}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_applied_migration_stops_the_start_naming_its_tag() {
    let mut server = Server::start_with(Options {
        extra: "[[migrations]]\ntag = \"v1\"\nnew_classes = [\"Counter\"]\n".into(),
        ..Options::default()
    });
    server.get("/counter/dan/increment").await;
    server.options.extra = "[[migrations]]\ntag = \"v1\"\nnew_classes = [\"Chat\"]\n".into();
    let log = server.restart_refused();
    assert!(
        log.contains("migration \"v1\" was already applied to this data directory"),
        "{log}"
    );
}
