//! Folders written by earlier releases re-report as this release says they should, byte for byte:
//! `tests/fixtures/previous/` (one folder per kind of run, written by the release before the
//! results folder got one owner; its README says how) and `tests/fixtures/v0.1.0/` (written by
//! 0.1.0). Each folder keeps what its release wrote and printed (`benchmark_qps_results.json` or
//! `reported.json`, and `report-stdout.txt`), and what `redline report` writes and prints now
//! (`expected.json`, `expected-stdout.txt`): the differences between the two are the deliberate
//! ones the README lists. `redline report` must write exactly the expected JSON, print the expected
//! console and leave `metadata.json` as it was; `redline merge` of the shards must write the
//! expected merged folder.
//!
//! `REDLINE_BLESS=1 cargo test compat` rewrites the expected files from what this build writes,
//! for a change that alters an output on purpose (the diff then shows what changed).

use std::path::{Path, PathBuf};
use std::process::Output;

fn fixtures(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(sub)
}

/// A copy of a fixture folder in a temporary folder (the fixture itself is never written).
fn copy(from: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
    }
    tmp
}

fn redline(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap()
}

/// The console without its last line's folder, which differs by where the copy is.
fn console(stdout: &[u8]) -> String {
    let text = String::from_utf8_lossy(stdout);
    text.lines()
        .map(|l| {
            if l.starts_with("Results: ") {
                "Results: DIR"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `got` against the fixture file `expected`, or (blessing) written there.
fn expect(expected: &Path, got: &[u8], what: &str) {
    if std::env::var_os("REDLINE_BLESS").is_some() {
        std::fs::write(expected, got).unwrap();
        return;
    }
    assert_eq!(
        String::from_utf8_lossy(&bytes(expected)),
        String::from_utf8_lossy(got),
        "{what}: {} (REDLINE_BLESS=1 rewrites it when the change is deliberate)",
        expected.display()
    );
}

fn re_report(fixture: &Path) {
    let tmp = copy(fixture);
    let out = redline(&["report", &tmp.path().display().to_string()]);
    let name = fixture.display();
    assert!(out.status.success(), "{name}: {out:?}");
    expect(
        &fixture.join("expected.json"),
        &bytes(&tmp.path().join("benchmark_qps_results.json")),
        "the results JSON",
    );
    assert_eq!(
        bytes(&tmp.path().join("metadata.json")),
        bytes(&fixture.join("metadata.json")),
        "{name}: metadata.json"
    );
    expect(
        &fixture.join("expected-stdout.txt"),
        console(&out.stdout).as_bytes(),
        "the console",
    );
}

#[test]
fn folders_of_the_previous_release_re_report_as_expected() {
    for kind in [
        "rates",
        "concurrency",
        "trace",
        "sessions",
        "auto",
        "shard0",
        "merged",
    ] {
        re_report(&fixtures("previous").join(kind));
    }
}

#[test]
fn folders_of_0_1_0_re_report_as_expected() {
    for name in ["queueing", "client-limited"] {
        re_report(&fixtures("v0.1.0").join(name));
    }
}

#[test]
fn a_report_with_other_settings_writes_and_records_what_it_did_before() {
    let fixture = fixtures("previous").join("rates");
    let tmp = copy(&fixture);
    let out = redline(&[
        "report",
        &tmp.path().display().to_string(),
        "--gpu-rate",
        "3",
        "--percentiles",
        "50,99.9",
        "--slo",
        "ttft_p95<=0.3",
        "--output",
        "alt.json",
    ]);
    assert!(out.status.success(), "{out:?}");
    expect(
        &fixture.join("expected-alt.json"),
        &bytes(&tmp.path().join("alt.json")),
        "the other results file",
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&bytes(&tmp.path().join("metadata.json"))).unwrap();
    // What changed is recorded as the previous release recorded it.
    let changed: serde_json::Value =
        serde_json::from_slice(&bytes(&fixture.join("alt-changed.json"))).unwrap();
    assert_eq!(meta["reports"][0]["changed"], changed);
    assert_eq!(meta["reports"][0]["output"], "alt.json");
    // The run's own results file is untouched.
    assert_eq!(
        bytes(&tmp.path().join("benchmark_qps_results.json")),
        bytes(&fixture.join("benchmark_qps_results.json"))
    );
}

#[test]
fn the_shards_of_the_previous_release_merge_into_the_expected_folder() {
    let prev = fixtures("previous");
    let out_dir = tempfile::tempdir().unwrap();
    let merged = out_dir.path().join("merged");
    let shards: Vec<_> = ["shard0", "shard1"].map(|s| copy(&prev.join(s))).into();
    let out = redline(&[
        "merge",
        &shards[0].path().display().to_string(),
        &shards[1].path().display().to_string(),
        "--output-dir",
        &merged.display().to_string(),
    ]);
    assert!(out.status.success(), "{out:?}");
    // The merge writes what a report of the previous release's merged folder writes now, and the
    // same records as that merge.
    expect(
        &prev.join("merged/expected.json"),
        &bytes(&merged.join("benchmark_qps_results.json")),
        "the merged results",
    );
    assert_eq!(
        bytes(&merged.join("requests.jsonl")),
        bytes(&prev.join("merged/requests.jsonl"))
    );
    // The metadata differs only where the merge's time and the shards' folders are recorded, and
    // in the settings this release adds.
    let read = |p: &Path| -> serde_json::Value {
        let mut v: serde_json::Value = serde_json::from_slice(&bytes(p)).unwrap();
        v["timestamp"] = serde_json::Value::Null;
        for s in v["merged"]["shard_runs"].as_array_mut().unwrap() {
            s["dir"] = serde_json::Value::Null;
        }
        v
    };
    assert_eq!(
        read(&merged.join("metadata.json")),
        read(&prev.join("merged/metadata.json"))
    );
}
