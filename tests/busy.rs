//! The demo's answer on a busy client machine: another thread burns one of the two cores in a busy
//! loop for the whole run, and `redline demo` still finds maximum sustainable 30 and saturation 40.
//! Lag from the busy core may mark a level client-limited, but endpoint errors stay the endpoint's
//! and a PASS whose load was delivered stands. Alone in its test binary, so nothing else runs
//! beside it; about a minute of real time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn the_demo_answer_holds_while_another_process_burns_a_core() {
    let stop = Arc::new(AtomicBool::new(false));
    let spin = stop.clone();
    let burner = std::thread::spawn(move || {
        let mut x: u64 = 0;
        while !spin.load(Ordering::Relaxed) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    });
    let results = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_redline"))
        .args([
            "demo",
            "--results-dir",
            &results.path().display().to_string(),
        ])
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    burner.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("Maximum sustainable QPS: 30.0"), "{stdout}");
    assert!(stdout.contains("Saturation point: 40.0 QPS"), "{stdout}");
}
