//! The HTML report in a real browser: a simulator run's report opened in headless Chromium must
//! log nothing to its console (no error, no uncaught exception, no blocked fetch), request nothing
//! beyond its own file, run its script and show the key figures; a screenshot is kept at
//! `<target>/browser/report.png`.
//!
//! Chromium is driven by its command line only: `--dump-dom` prints the rendered page,
//! `--enable-logging=stderr` prints every console message as a `...:CONSOLE:<line>] "<text>"`
//! line (Chromium 148 tags `console.log` and `console.error` alike, so any console line fails:
//! the report logs nothing), an uncaught exception as `"Uncaught ..."`, and `--log-net-log` writes
//! each request. A first test proves these checks catch what they must, on tiny pages.
//!
//! Chromium is found at `$REDLINE_CHROMIUM`, `/usr/bin/chromium` or `chromium` on PATH; without it
//! the tests fail saying how to install it, unless `REDLINE_SKIP_BROWSER=1`.

use crate::common::*;
use redline::analyze::reason::Qps;
use redline::analyze::report::Report;
use redline::output::folder::RunFolder;
use redline::output::html;
use redline::output::metadata::Overrides;
use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long one Chromium may run before it is killed.
const LIMIT: Duration = Duration::from_secs(60);

/// The browser, or `None` when skipping was asked for; fails when there is none to use.
fn chromium() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("chromium"))
            .find(|p| p.is_file())
    });
    if let Some(named) = std::env::var_os("REDLINE_CHROMIUM").map(PathBuf::from) {
        assert!(
            named.is_file(),
            "REDLINE_CHROMIUM={} is not a file: install Chromium (`sudo apt-get install chromium`) or point it at the browser",
            named.display()
        );
        return Some(named);
    }
    let found = Some(PathBuf::from("/usr/bin/chromium"))
        .filter(|p| p.is_file())
        .or(on_path);
    if found.is_some() {
        return found;
    }
    if std::env::var("REDLINE_SKIP_BROWSER").as_deref() == Ok("1") {
        eprintln!("browser test skipped: REDLINE_SKIP_BROWSER=1 and no Chromium found");
        return None;
    }
    panic!(
        "the browser tests need Chromium: `sudo apt-get install chromium` (or set REDLINE_CHROMIUM \
         to its path); REDLINE_SKIP_BROWSER=1 skips them"
    );
}

/// What the browser did with a page.
struct Opened {
    /// The rendered DOM (`--dump-dom`), empty for a screenshot.
    dom: String,
    /// Console messages and uncaught exceptions from its stderr.
    console: Vec<String>,
    /// URLs the page asked the network for.
    requests: Vec<String>,
}

/// Opens `page` in headless Chromium with `mode` (`--dump-dom`, or a screenshot's flags), killed
/// after [`LIMIT`].
fn open(browser: &Path, page: &Path, mode: &[&str]) -> Opened {
    let tmp = tempfile::tempdir().unwrap();
    let net = tmp.path().join("net.json");
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ])
    .arg(format!(
        "--user-data-dir={}",
        tmp.path().join("profile").display()
    ))
    .arg(format!("--log-net-log={}", net.display()))
    .args(mode)
    .arg(format!("file://{}", page.display()))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    // Its own process group, so that the watchdog ends the browser's helpers with it.
    .process_group(0);
    let child = cmd.spawn().expect("Chromium starts");
    let group = child.id();
    let (done, finished) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if finished.recv_timeout(LIMIT) == Err(mpsc::RecvTimeoutError::Timeout) {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{group}")])
                .status();
            return true;
        }
        false
    });
    let out = child.wait_with_output().expect("Chromium's output");
    let _ = done.send(());
    assert!(
        !watchdog.join().unwrap(),
        "Chromium ran past {LIMIT:?} and was killed"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "Chromium failed: {stderr}");
    Opened {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console: console_lines(&stderr),
        requests: page_requests(&net),
    }
}

/// The stderr lines that are console messages (`INFO:CONSOLE:12] "..."`, or
/// `CONSOLE(12)` in older Chromium) or uncaught exceptions.
fn console_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE:") || l.contains(":CONSOLE(") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect()
}

/// The http, https, ws and wss URLs requested in the net log, other than Chromium's own
/// background requests (those with no origin at all: `"initiator": "not an origin"`).
fn page_requests(net: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(net).expect("the net log");
    let log: Value = serde_json::from_str(&text).expect("the net log is JSON");
    let url_request = &log["constants"]["logSourceType"]["URL_REQUEST"];
    let mut sources: std::collections::BTreeMap<u64, (Vec<String>, bool)> = Default::default();
    for e in log["events"].as_array().expect("net log events") {
        let id = e["source"]["id"].as_u64().unwrap_or(0);
        let p = &e["params"];
        let url = p["url"].as_str().unwrap_or("");
        let scheme = url.split(':').next().unwrap_or("");
        let remote = matches!(scheme, "http" | "https" | "ws" | "wss");
        if e["source"]["type"] != *url_request && !matches!(scheme, "ws" | "wss") {
            continue;
        }
        let entry = sources.entry(id).or_default();
        if remote {
            entry.0.push(url.to_string());
        }
        if p["initiator"] == "not an origin" {
            entry.1 = true;
        }
    }
    let mut urls: Vec<String> = sources
        .into_values()
        .filter(|(_, browsers_own)| !browsers_own)
        .flat_map(|(urls, _)| urls)
        .collect();
    urls.dedup();
    urls
}

#[test]
fn the_checks_catch_console_errors_exceptions_and_requests() {
    let Some(browser) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = |name: &str, head: &str, body: &str| {
        let p = dir.path().join(name);
        let doc = format!("<!DOCTYPE html><html><head><meta charset=\"utf-8\">{head}</head><body><p>ok</p>{body}</body></html>");
        std::fs::write(&p, doc).unwrap();
        p
    };
    let clean = open(&browser, &page("clean.html", "", ""), &["--dump-dom"]);
    assert!(
        clean.console.is_empty() && clean.requests.is_empty(),
        "{:?} {:?}",
        clean.console,
        clean.requests
    );
    assert!(clean.dom.contains("<p>ok</p>"));

    let logged = page("error.html", "", "<script>console.error('xERRx')</script>");
    let logged = open(&browser, &logged, &["--dump-dom"]);
    assert!(
        logged.console.iter().any(|l| l.contains("xERRx")),
        "{:?}",
        logged.console
    );

    let thrown = page(
        "throw.html",
        "",
        "<script>throw new Error('xTHROWx')</script>",
    );
    let thrown = open(&browser, &thrown, &["--dump-dom"]);
    assert!(
        thrown
            .console
            .iter()
            .any(|l| l.contains("Uncaught") && l.contains("xTHROWx")),
        "{:?}",
        thrown.console
    );

    let img = "<img src=\"http://127.0.0.1:9/x.png\">";
    let fetched = open(&browser, &page("img.html", "", img), &["--dump-dom"]);
    assert_eq!(fetched.requests, ["http://127.0.0.1:9/x.png"]);

    // With the report's policy the image is never requested, and the browser says it blocked it.
    let csp = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        html::page::CSP
    );
    let blocked = open(&browser, &page("csp.html", &csp, img), &["--dump-dom"]);
    assert!(blocked.requests.is_empty(), "{:?}", blocked.requests);
    assert!(
        blocked
            .console
            .iter()
            .any(|l| l.contains("Content Security Policy")),
        "{:?}",
        blocked.console
    );
}

/// A script, run after the page's own, that hovers the first point and presses the first legend
/// button twice, and writes what it saw on the body.
const INTERACT: &str = r#"<script>(function(){
var out=[],tip=document.getElementById('tip'),c=document.querySelector('circle[data-tip]');
c.dispatchEvent(new MouseEvent('mouseover',{bubbles:true,clientX:100,clientY:100}));
out.push('tip='+!tip.hidden+':'+tip.textContent);
var b=document.querySelector('button[data-s]'),g=b.closest('figure').querySelector('g.'+b.getAttribute('data-s'));
b.click();out.push('off='+g.classList.contains('off')+':'+b.getAttribute('aria-pressed'));
b.click();out.push('on='+!g.classList.contains('off'));
document.body.setAttribute('data-checked',out.join(';'));
})();</script></body>"#;

/// Hovering a point shows its level's figures (`first`'s, the lowest level), and a legend button
/// hides its series and shows it again.
fn interacts(browser: &Path, page: &Path, first: &str) {
    let html = std::fs::read_to_string(page).unwrap();
    let probe = page.with_file_name("interact.html");
    std::fs::write(&probe, html.replace("</body>", INTERACT)).unwrap();
    let opened = open(browser, &probe, &["--dump-dom"]);
    assert!(opened.console.is_empty(), "console: {:?}", opened.console);
    let checked = opened
        .dom
        .split("data-checked=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("the probe ran: {}", opened.dom));
    assert!(
        checked.starts_with(&format!("tip=true:{first}")),
        "{checked}"
    );
    assert!(
        checked.contains("TTFT p95") && checked.contains("success"),
        "the level's figures: {checked}"
    );
    assert!(checked.ends_with(";off=true:false;on=true"), "{checked}");
}

/// The report of a run's folder, rebuilt from its records with the run's own options, as
/// `redline report` does, with those options' percentiles.
fn report_of(dir: &Path) -> (Report, Vec<f64>) {
    let folder = RunFolder::open(dir);
    let meta = folder.metadata().unwrap();
    let opts = meta.report_options(&Overrides::default()).unwrap();
    let runs = folder.level_runs(&meta).unwrap();
    (Report::from_runs(&runs, &opts), opts.percentiles)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulator_runs_report_renders_offline_with_its_figures() {
    let Some(browser) = chromium() else { return };
    let run = redline(&["demo", "--qps", "10,30,60", "--duration", "2", "--html"]).await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let dir = run.dir();
    let (report, percentiles) = report_of(&dir);
    let written = run.results_json();
    assert_eq!(
        serde_json::to_value(&report.summary).unwrap(),
        written["summary"],
        "the rebuilt report is the run's"
    );
    // The page the run wrote (`--html`) is the page of its report.
    let page = dir.join("benchmark_qps.html");
    assert!(run
        .stdout()
        .contains(&format!("Report: {}", page.display())));
    let heading = format!(
        "redline results {}",
        dir.file_name().unwrap().to_string_lossy()
    );
    assert_eq!(
        std::fs::read_to_string(&page).unwrap(),
        html::run_page(&report, &percentiles, &heading)
    );
    let size = std::fs::metadata(&page).unwrap().len();
    println!("report: {} ({size} bytes)", page.display());

    let opened = open(&browser, &page, &["--dump-dom"]);
    assert!(opened.console.is_empty(), "console: {:?}", opened.console);
    assert!(
        opened.requests.is_empty(),
        "requests: {:?}",
        opened.requests
    );
    let dom = &opened.dom;
    assert!(
        dom.contains("data-script=\"ran\""),
        "the script ran to its end"
    );
    match report.summary.max_sustainable_qps {
        Some(q) => assert!(dom.contains(&format!("Maximum sustainable QPS: {}", Qps(q)))),
        None => assert!(dom.contains("Maximum sustainable QPS: ")),
    }
    for l in &report.results {
        assert!(
            dom.contains(&format!("<tr><td>{}</td>", Qps(l.rate))),
            "{}",
            l.label()
        );
        assert!(
            dom.contains(&format!("data-tip=\"{}", l.label())),
            "{} hovers",
            l.label()
        );
    }
    assert!(dom.contains("PASS"));
    assert!(dom.matches("<figure class=\"chart\">").count() >= 4);
    interacts(&browser, &page, &report.results[0].label());

    screenshot(&browser, &page, "report.png", (1400, 3000));
}

/// Takes a screenshot of `page` at `size` into `<target>/browser/<name>`, which must show it
/// with nothing in the console and no request.
fn screenshot(browser: &Path, page: &Path, name: &str, size: (u32, u32)) {
    let shot = Path::new(env!("CARGO_BIN_EXE_redline"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("browser")
        .join(name);
    std::fs::create_dir_all(shot.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&shot);
    let to = format!("--screenshot={}", shot.display());
    let window = format!("--window-size={},{}", size.0, size.1);
    let flags = [to.as_str(), window.as_str(), "--hide-scrollbars"];
    let shown = open(browser, page, &flags);
    assert!(shown.console.is_empty(), "console: {:?}", shown.console);
    assert!(shown.requests.is_empty(), "requests: {:?}", shown.requests);
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert_eq!(image::image_dimensions(&shot).unwrap(), size);
    println!("screenshot: {}", shot.display());
}

/// Opens `page` and returns its rendered DOM, failing on any console line or request.
fn rendered(browser: &Path, page: &Path) -> String {
    let opened = open(browser, page, &["--dump-dom"]);
    assert!(
        opened.console.is_empty(),
        "{}: console {:?}",
        page.display(),
        opened.console
    );
    assert!(
        opened.requests.is_empty(),
        "{}: requests {:?}",
        page.display(),
        opened.requests
    );
    assert!(
        opened.dom.contains("data-script=\"ran\""),
        "the script ran to its end"
    );
    opened.dom
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweeps_frontier_and_a_comparison_render_offline_with_their_figures() {
    let Some(browser) = chromium() else { return };
    let base = fast_sim(&[]).await;
    let run = sweep(
        &["--param", "max_tokens=8,32"],
        &base,
        &["--qps", "10,20", "--duration", "1"],
    )
    .await;
    assert_eq!(run.code(), Some(0), "{}", run.stderr());
    let sweep = only_run_dir(run.results.path());
    let dom = rendered(&browser, &sweep.join("report.html"));
    let file = read_json(&sweep.join("sweep.json"));
    for c in file["configurations"].as_array().unwrap() {
        let name = c["name"].as_str().unwrap();
        // Its row, its point's hover and the link to its own report, which opens offline too.
        assert!(dom.contains(&format!("<tr><td>{name}</td>")), "{name}");
        assert!(dom.contains("data-tip=\"Configuration"), "the points hover");
        let own = format!("{}/benchmark_qps.html", c["dir"].as_str().unwrap());
        assert!(dom.contains(&format!("href=\"{own}\"")), "{own}");
        rendered(&browser, &sweep.join(&own));
    }
    assert!(dom.contains("Pareto frontier"));
    screenshot(
        &browser,
        &sweep.join("report.html"),
        "sweep.png",
        (1300, 1100),
    );

    let dirs: Vec<String> = file["configurations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| sweep.join(c["dir"].as_str().unwrap()).display().to_string())
        .collect();
    let chart = run.results.path().join("compare.png").display().to_string();
    let compared = Command::new(env!("CARGO_BIN_EXE_redline"))
        .args([
            "compare",
            &dirs[0],
            &dirs[1],
            "--html",
            "--plot-output",
            &chart,
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&compared.stderr);
    assert_eq!(compared.status.code(), Some(0), "{said}");
    let page = run.results.path().join("compare.html");
    let dom = rendered(&browser, &page);
    assert!(dom.contains("<figure class=\"chart\">"));
    for c in file["configurations"].as_array().unwrap() {
        assert!(
            dom.contains(c["dir"].as_str().unwrap()),
            "each run is named"
        );
    }
}
