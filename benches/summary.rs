//! How long summarising a big level takes: 1,000,000 request records of 64 tokens each (63 ITL
//! gaps apiece) through `analyze::level::level_report` (every percentile and the verdict), the table and the JSON.
//! Run with `cargo bench --bench summary`; docs/performance.md records the figures.

use redline::analyze::level::level_report;
use redline::analyze::report::Report;
use redline::config::ReportOptions;
use redline::measure::record::{LevelRun, RequestRecord};
use std::time::Instant;

fn records(n: u64) -> Vec<RequestRecord> {
    // A cheap deterministic spread of latencies.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 10_000) as f64 / 1e6
    };
    (0..n)
        .map(|i| {
            let planned = i as f64 / 3000.0;
            let mut r = RequestRecord::new(0, 3000.0, i, (i % 30) as usize, planned);
            r.sent_s = Some(planned + next() / 10.0);
            r.headers_s = r.sent_s;
            r.first_token_s = Some(planned + 0.05 + next());
            r.itl_s = (0..63).map(|_| 0.01 + next() / 10.0).collect();
            r.last_token_s = Some(r.first_token_s.unwrap() + 0.63);
            r.end_s = r.last_token_s.unwrap() + 0.0001;
            r.status = Some(200);
            r.chunks = 67;
            r.content_chunks = 64;
            r.prompt_tokens = Some(200);
            r.completion_tokens = Some(64);
            r
        })
        .collect()
}

fn main() {
    let n = 1_000_000;
    let t = Instant::now();
    let recs = records(n);
    println!(
        "built {n} records in {:.2} s (not part of the measurement)",
        t.elapsed().as_secs_f64()
    );
    let run = LevelRun::new(
        redline::config::LevelId::rate(0, 3000.0),
        3000.0,
        n as f64 / 3000.0,
        recs,
        None,
    );
    let opts = ReportOptions {
        percentiles: vec![50.0, 95.0, 99.0],
        ..ReportOptions::default()
    };
    let t = Instant::now();
    let level = level_report(&run, &opts);
    let stats = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let report = Report::new(vec![level], &opts);
    let table = redline::output::table::render(&report.results, &opts.percentiles, false, false);
    let json = serde_json::to_vec_pretty(&report).unwrap();
    let rest = t.elapsed().as_secs_f64();
    println!("summary of {n} records (64M ITL gaps): percentiles {stats:.3} s, summary + table + JSON {rest:.3} s, total {:.3} s", stats + rest);
    println!("table {} bytes, JSON {} bytes", table.len(), json.len());
}
