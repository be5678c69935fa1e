//! The harness in smoke mode against the real `wdo` binary and the counter example: a few
//! hundred requests over every scenario. It asserts only that every request succeeded (and
//! that no increment was lost); timings are printed, never judged, so a loaded machine
//! cannot make it fail.

#[test]
fn smoke_mode_serves_every_scenario_without_a_failed_request() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let options = wdo_bench::Options {
        bench_binary: Some(env!("CARGO_BIN_EXE_wdo-bench").into()),
        ..wdo_bench::Options::smoke()
    };
    let report = runtime
        .block_on(wdo_bench::run(&options))
        .expect("the smoke run failed");
    println!("{}", report.render());
    for id in [
        "1", "2", "3", "4", "5", "6.1", "6.2", "8.1", "8.2", "8.3", "8.4", "9",
    ] {
        let m = report
            .find(wdo_bench::servers::Runtime::Wdo, id)
            .unwrap_or_else(|| panic!("scenario {id} did not run"));
        assert!(
            m.summary.ok > 0 && m.summary.failures == 0,
            "scenario {id}: {m:?}"
        );
    }
    let floors = report.floors.as_deref().expect("the floors were measured");
    for floor in [
        "HTTP only",
        "group-commit fsync",
        "storage of an activation",
        "broadcast",
    ] {
        assert!(floors.contains(floor), "no {floor:?} floor in:\n{floors}");
    }
}
