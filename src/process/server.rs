//! A server `redline sweep` starts for one configuration: its command run by `sh -c` in a process
//! group of its own (so a Ctrl-C at the terminal reaches redline, which stops the server itself),
//! its output appended to a log file, a wait until it answers `/health` or `/v1/models`, and a stop
//! that sends the whole group SIGTERM, then SIGKILL after a grace period.
//!
//! No server outlives redline where redline can help it: every group started is registered until
//! it is stopped, a `Server` dropped without `stop` kills its group, the hard exit of a third
//! Ctrl-C (`watch_interrupts`) kills every registered group first, a hangup (a closed terminal or
//! ssh session) stops the sweep as Ctrl-C does, and the shell the server runs in gets SIGTERM if
//! redline itself is killed (`PR_SET_PDEATHSIG`; a server that the shell forks rather than execs
//! is then left to its group, which only redline could signal).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Process groups started and not yet stopped.
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());

/// How often readiness is asked.
const POLL: Duration = Duration::from_millis(250);

/// Lines of the server's log shown in an error.
const TAIL_LINES: usize = 20;

/// A started server.
pub struct Server {
    child: tokio::process::Child,
    pgid: i32,
    log: PathBuf,
    stopped: bool,
}

/// How a server ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Stopped {
    /// It needed SIGKILL: it did not exit within the grace period after SIGTERM.
    pub killed: bool,
    /// Its exit status, when it was the shell's.
    pub status: Option<String>,
}

impl Server {
    /// Starts `command` with `sh -c`, stdout and stderr appended to `log`.
    pub fn start(command: &str, log: &Path) -> Result<Server> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot write the server log {}", log.display()))?;
        let err = file.try_clone().context("cannot share the server log")?;
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg(command)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err);
        // SAFETY: between fork and exec only prctl(2) is called, which is async-signal-safe: the
        // shell (or the server it execs) gets SIGTERM if redline dies without stopping it.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start the server command `{command}`"))?;
        let pgid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .context("the server exited as it started")?;
        register(pgid);
        Ok(Server {
            child,
            pgid,
            log: log.to_path_buf(),
            stopped: false,
        })
    }

    /// Waits until `GET base/health` or `GET base/v1/models` answers 2xx, the server exits, `limit`
    /// passes or `cancel` fires (all but the first are errors, with the log's last lines).
    pub async fn wait_ready(
        &mut self,
        base: &reqwest::Url,
        limit: Duration,
        cancel: &CancellationToken,
    ) -> Result<Duration> {
        let began = Instant::now();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .no_proxy()
            .build()
            .context("cannot build the readiness client")?;
        let urls = ["health", "v1/models"].map(|p| base.join(p));
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "the server exited ({status}) before it was ready{}",
                    self.tail()
                );
            }
            for url in urls.iter().flatten() {
                let ok = client.get(url.clone()).send().await;
                // Ready, and still this server: another process on the port would answer too.
                let alive = matches!(self.child.try_wait(), Ok(None));
                if ok.is_ok_and(|r| r.status().is_success()) && alive {
                    return Ok(began.elapsed());
                }
            }
            if began.elapsed() >= limit {
                bail!(
                    "the server did not answer {base}health or {base}v1/models within --serve-timeout {} s{}",
                    limit.as_secs_f64(),
                    self.tail()
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = cancel.cancelled() => bail!("interrupted while the server was starting"),
            }
        }
    }

    /// The log's last lines, as an error's last paragraph.
    pub fn tail(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(TAIL_LINES);
        match lines.is_empty() {
            true => format!("; its log {} is empty", self.log.display()),
            false => format!(
                "; the last lines of its log ({}):\n    {}",
                self.log.display(),
                lines[from..].join("\n    ")
            ),
        }
    }

    /// SIGTERM to the group, then SIGKILL once `grace` has passed with a process still in it.
    pub async fn stop(mut self, grace: Duration) -> Stopped {
        signal_group(self.pgid, libc::SIGTERM);
        let deadline = Instant::now() + grace;
        let mut status = None;
        while Instant::now() < deadline {
            if status.is_none() {
                status = self.child.try_wait().ok().flatten();
            }
            if status.is_some() && !group_alive(self.pgid) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let killed = group_alive(self.pgid);
        if killed {
            signal_group(self.pgid, libc::SIGKILL);
        }
        if status.is_none() {
            status = self.child.wait().await.ok();
        }
        self.stopped = true;
        unregister(self.pgid);
        Stopped {
            killed,
            status: status.map(|s| s.to_string()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.stopped {
            signal_group(self.pgid, libc::SIGKILL);
            unregister(self.pgid);
        }
    }
}

fn register(pgid: i32) {
    if let Ok(mut g) = GROUPS.lock() {
        g.push(pgid);
    }
}

fn unregister(pgid: i32) {
    if let Ok(mut g) = GROUPS.lock() {
        g.retain(|&p| p != pgid);
    }
}

/// Kills every server still running: the last thing before a hard exit.
pub fn kill_all() {
    if let Ok(g) = GROUPS.lock() {
        for &pgid in g.iter() {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

fn signal_group(pgid: i32, sig: libc::c_int) {
    // SAFETY: kill(2) with a negative pid signals a process group; it reads no memory of ours.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// Whether any process of the group is still alive (signal 0 checks without sending).
fn group_alive(pgid: i32) -> bool {
    // SAFETY: as above; signal 0 only checks that the group exists.
    unsafe { libc::kill(-pgid, 0) == 0 }
}
