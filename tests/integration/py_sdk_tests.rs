//! The Python SDK's own unit tests (`guest-sdk/python/tests/test_sdk.py`: RPC dispatch,
//! env, ids, stubs, workers, against generated bindings, without a host), run by the suite.

use std::process::Command;

use crate::harness::repo_root;

#[test]
fn the_python_sdks_own_tests_pass() {
    let root = repo_root();
    let output = Command::new(root.join("guest-sdk/python/.venv/bin/python"))
        .args(["-m", "unittest", "-v", "test_sdk"])
        .current_dir(root.join("guest-sdk/python/tests"))
        .output()
        .expect("run the Python SDK's tests");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "test_sdk failed:\n{text}");
    assert!(text.contains("Ran ") && text.contains("OK"), "{text}");
}
