use std::path::Path;

use super::journal::Journal;
use super::plan::{self, Step};
use super::{run, MigrationError};
use crate::config::Config;

/// A config over `dir` declaring `namespaces`, followed by `migrations` (TOML).
fn config(dir: &Path, namespaces: &[&str], migrations: &str) -> Config {
    let mut text = format!("data-dir = {:?}\n", dir.display().to_string());
    for name in namespaces {
        text.push_str(&format!(
            "[[namespace]]\nname = {name:?}\ncomponent = \"x.wasm\"\n"
        ));
    }
    text.push_str(migrations);
    Config::parse(&text).unwrap()
}

/// A namespace directory as the host leaves it: metadata, and one object per entry.
fn namespace_with(dir: &Path, name: &str, objects: &[(&str, &str)]) {
    let ns = dir.join(name);
    std::fs::create_dir_all(&ns).unwrap();
    std::fs::write(ns.join("metadata.sqlite"), format!("id key of {name}")).unwrap();
    for (id, content) in objects {
        std::fs::write(ns.join(format!("{id}.sqlite")), content).unwrap();
    }
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).unwrap()
}

const RENAME: &str = r#"
[[migrations]]
tag = "v1"
new_classes = ["Counter"]
[[migrations]]
tag = "v2"
renamed_classes = [{ from = "Counter", to = "Tally" }]
"#;

#[test]
fn a_rename_moves_objects_and_id_key_to_the_new_name_once() {
    let dir = tempfile::tempdir().unwrap();
    namespace_with(dir.path(), "counter", &[("a1", "count=3")]);
    let config = config(dir.path(), &["tally"], RENAME);
    assert_eq!(run(&config).unwrap().tags, ["v1", "v2"]);
    assert_eq!(read(dir.path(), "tally/a1.sqlite"), "count=3");
    assert_eq!(
        read(dir.path(), "tally/metadata.sqlite"),
        "id key of counter"
    );
    assert!(!dir.path().join("counter").exists());
    // The same config again: nothing to do, and the data stays where it is.
    assert!(run(&config).unwrap().tags.is_empty());
    assert_eq!(read(dir.path(), "tally/a1.sqlite"), "count=3");
}

#[test]
fn a_delete_removes_the_namespace_and_its_data() {
    let dir = tempfile::tempdir().unwrap();
    namespace_with(dir.path(), "old", &[("a1", "x")]);
    namespace_with(dir.path(), "kept", &[("b1", "y")]);
    let config = config(
        dir.path(),
        &["kept"],
        "[[migrations]]\ntag = \"v1\"\ndeleted_classes = [\"Old\"]\n",
    );
    assert_eq!(run(&config).unwrap().tags, ["v1"]);
    assert!(!dir.path().join("old").exists());
    assert_eq!(read(dir.path(), "kept/b1.sqlite"), "y");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with("migrations.sqlite"))
        .collect();
    assert_eq!(names, ["kept"], "nothing of the deleted namespace is left");
}

#[test]
fn a_changed_applied_migration_is_refused_with_its_tag() {
    let dir = tempfile::tempdir().unwrap();
    run(&config(
        dir.path(),
        &["counter"],
        "[[migrations]]\ntag = \"v1\"\nnew_classes = [\"Counter\"]\n",
    ))
    .unwrap();
    let changed = config(
        dir.path(),
        &["counter"],
        "[[migrations]]\ntag = \"v1\"\nnew_classes = [\"Counter\", \"Room\"]\n",
    );
    let err = run(&changed).unwrap_err();
    assert!(
        matches!(&err, MigrationError::Changed { tag, .. } if tag == "v1"),
        "{err}"
    );
    assert!(
        err.to_string().contains("\"v1\" was already applied"),
        "{err}"
    );
}

#[test]
fn a_tag_out_of_order_or_missing_is_refused_with_its_tag() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = "[[migrations]]\ntag = \"v1\"\nnew_classes = [\"Counter\"]\n";
    let v0 = "[[migrations]]\ntag = \"v0\"\nnew_classes = [\"Room\"]\n";
    run(&config(dir.path(), &["counter"], v1)).unwrap();
    let err = run(&config(dir.path(), &["counter"], &format!("{v0}{v1}"))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "migration \"v0\" comes before the already applied migration \"v1\" in the config: \
         migrations apply in order, so a new tag goes after the last applied one"
    );
    let err = run(&config(dir.path(), &["counter"], v0)).unwrap_err();
    assert!(
        matches!(&err, MigrationError::MissingApplied { tag } if tag == "v1"),
        "{err}"
    );
}

#[test]
fn renaming_onto_a_namespace_with_data_is_refused_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    namespace_with(dir.path(), "counter", &[("a1", "from counter")]);
    namespace_with(dir.path(), "tally", &[("a1", "from tally")]);
    let err = run(&config(dir.path(), &["tally"], RENAME)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "migration \"v2\" cannot rename class \"Counter\" to \"Tally\": namespace \"tally\" \
         already has data; delete it in an earlier migration or rename to another name"
    );
    assert_eq!(read(dir.path(), "counter/a1.sqlite"), "from counter");
    assert_eq!(read(dir.path(), "tally/a1.sqlite"), "from tally");
    let journal = Journal::open(dir.path()).unwrap();
    assert!(
        journal.applied().unwrap().is_empty(),
        "v1 is not recorded either"
    );
    assert!(journal.plan().unwrap().is_none());
}

#[test]
fn an_unused_namespace_gives_way_to_a_rename() {
    let dir = tempfile::tempdir().unwrap();
    namespace_with(dir.path(), "counter", &[("a1", "kept")]);
    // A host started once with `tally` declared: only a fresh id key, no object.
    namespace_with(dir.path(), "tally", &[]);
    run(&config(dir.path(), &["tally"], RENAME)).unwrap();
    assert_eq!(read(dir.path(), "tally/a1.sqlite"), "kept");
    assert_eq!(
        read(dir.path(), "tally/metadata.sqlite"),
        "id key of counter"
    );
}

#[test]
fn renaming_or_deleting_a_class_that_does_not_exist_names_tag_and_class() {
    let dir = tempfile::tempdir().unwrap();
    let rename =
        "[[migrations]]\ntag = \"v1\"\nrenamed_classes = [{ from = \"Ghost\", to = \"Tally\" }]\n";
    let err = run(&config(dir.path(), &["tally"], rename)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "migration \"v1\" cannot rename class \"Ghost\": namespace \"ghost\" does not exist \
         (no earlier migration declares it and the data directory has no such namespace)"
    );
    let delete = "[[migrations]]\ntag = \"v1\"\ndeleted_classes = [\"GhostRoom\"]\n";
    let err = run(&config(dir.path(), &[], delete)).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "migration \"v1\" cannot delete class \"GhostRoom\": namespace \"ghost-room\""
        ),
        "{err}"
    );
    let bad = "[[migrations]]\ntag = \"v1\"\nnew_classes = [\"Chat Room\"]\n";
    let err = run(&config(dir.path(), &[], bad)).unwrap_err();
    assert!(err.to_string().contains("\"Chat Room\""), "{err}");
}

#[test]
fn classes_declared_by_earlier_migrations_can_be_renamed_before_they_have_data() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = "[[migrations]]\ntag = \"v1\"\nnew_sqlite_classes = [\"Counter\"]\n";
    run(&config(dir.path(), &["counter"], v1)).unwrap();
    // Declared in an applied migration, never used: no directory, and the rename is allowed.
    let both = config(
        dir.path(),
        &["tally"],
        RENAME.replace("new_classes", "new_sqlite_classes").as_str(),
    );
    assert_eq!(run(&both).unwrap().tags, ["v2"]);
}

#[test]
fn a_chain_of_renames_in_one_start_ends_under_the_last_name() {
    let dir = tempfile::tempdir().unwrap();
    namespace_with(dir.path(), "a", &[("x", "data")]);
    let chain = "[[migrations]]\ntag = \"1\"\nrenamed_classes = [{ from = \"A\", to = \"B\" }]\n\
                 [[migrations]]\ntag = \"2\"\nrenamed_classes = [{ from = \"B\", to = \"C\" }]\n";
    run(&config(dir.path(), &["c"], chain)).unwrap();
    assert_eq!(read(dir.path(), "c/x.sqlite"), "data");
    assert!(!dir.path().join("a").exists() && !dir.path().join("b").exists());
}

#[test]
fn a_namespace_with_data_missing_from_the_config_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    namespace_with(dir.path(), "counter", &[("a1", "x")]);
    // A namespace without objects (only its id key) may go: it holds no data.
    namespace_with(dir.path(), "unused", &[]);
    let err = run(&config(dir.path(), &["other"], "")).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "namespace \"counter\" has data in {} but not in the config",
            dir.path().display()
        )),
        "{err}"
    );
    assert!(
        err.to_string().contains("deleted_classes = [\"counter\"]"),
        "{err}"
    );
    assert_eq!(read(dir.path(), "counter/a1.sqlite"), "x");
    assert!(
        !dir.path().join("migrations.sqlite").exists(),
        "a config without migrations writes no record"
    );
}

#[test]
fn an_interrupted_start_is_finished_by_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    namespace_with(dir.path(), "counter", &[("a1", "moved")]);
    namespace_with(dir.path(), "old", &[("o", "gone")]);
    let text = format!("{RENAME}[[migrations]]\ntag = \"v3\"\ndeleted_classes = [\"Old\"]\n");
    let config = config(dir.path(), &["tally"], &text);
    // What a start that crashed after its first step leaves: the plan, one step done.
    let records: Vec<_> = config.migrations.iter().map(plan::recorded).collect();
    let disk = super::disk::scan(dir.path(), &dir.path().join(".cache")).unwrap();
    let (steps, _) = plan::plan(&[], &config.migrations, &disk).unwrap();
    assert_eq!(
        steps,
        [
            Step::Move {
                from: "counter".into(),
                to: "tally".into()
            },
            Step::Remove {
                namespace: "old".into()
            },
        ]
    );
    let mut journal = Journal::open(dir.path()).unwrap();
    journal.write_plan(&records, &steps).unwrap();
    super::disk::run_step(dir.path(), "v1", &steps[0]).unwrap();
    // ... and a removal whose rename was durable but whose deletion did not finish.
    std::fs::rename(dir.path().join("old"), dir.path().join(".removed-old")).unwrap();
    drop(journal);

    assert_eq!(run(&config).unwrap().tags, ["v1", "v2", "v3"]);
    assert_eq!(read(dir.path(), "tally/a1.sqlite"), "moved");
    assert!(!dir.path().join("old").exists() && !dir.path().join(".removed-old").exists());
    let journal = Journal::open(dir.path()).unwrap();
    assert_eq!(journal.applied().unwrap(), records);
    assert!(journal.plan().unwrap().is_none());
}

#[test]
fn an_interrupted_start_under_another_config_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    namespace_with(dir.path(), "counter", &[("a1", "x")]);
    let first = config(dir.path(), &["tally"], RENAME);
    let records: Vec<_> = first.migrations.iter().map(plan::recorded).collect();
    Journal::open(dir.path())
        .unwrap()
        .write_plan(&records, &[])
        .unwrap();
    let other = config(dir.path(), &["counter"], "[[migrations]]\ntag = \"w1\"\n");
    let err = run(&other).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("an interrupted start was applying migrations \"v1\", \"v2\""),
        "{err}"
    );
    assert_eq!(read(dir.path(), "counter/a1.sqlite"), "x");
}

#[test]
fn a_cache_directory_inside_the_data_directory_is_not_a_namespace() {
    let dir = tempfile::tempdir().unwrap();
    namespace_with(dir.path(), "cache", &[("component", "compiled code")]);
    let mut config = config(dir.path(), &[], "");
    config.cache_dir = Some(dir.path().join("cache"));
    run(&config).unwrap();
}

#[test]
fn a_rename_to_a_namespace_the_config_lacks_is_refused_before_anything_moves() {
    let dir = tempfile::tempdir().unwrap();
    namespace_with(dir.path(), "counter", &[("a1", "x")]);
    let err = run(&config(dir.path(), &["counter"], RENAME)).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("namespace \"tally\" has data in"),
        "{err}"
    );
    assert_eq!(read(dir.path(), "counter/a1.sqlite"), "x");
    assert!(Journal::open(dir.path())
        .unwrap()
        .applied()
        .unwrap()
        .is_empty());
}
