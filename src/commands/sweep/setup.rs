//! A sweep before its first server starts: the configurations from `--param` or `--param-file`,
//! every one's run flags filled in and parsed as a run's would be (so a typo fails now, not an hour
//! in), and the sweep's folder with `sweep.json`; or, with `--resume`, the same read back from the
//! folder, with the configurations an interruption cut short set aside to run again.

use super::grid::{self, Configuration};
use crate::cli::{is_run_flag, run_flags, BenchArgs, SweepArgs};
use crate::config::{Config, Levels};
use crate::output::folder::RunFolder;
use crate::output::sweep::{Entry, Status, SweepFile};
use anyhow::{anyhow, bail, Context, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The sweep's template: what is filled in per configuration.
#[derive(Debug, Clone)]
pub struct Template {
    pub serve: Option<String>,
    /// The run's flags, with parameters used in no placeholder appended as their flags.
    pub run: Vec<String>,
    pub serve_timeout_s: f64,
    pub serve_grace_s: f64,
}

/// A sweep ready to run: its folder, its file and its template.
pub struct Sweep {
    pub dir: PathBuf,
    pub file: SweepFile,
    pub template: Template,
}

/// A new sweep from the command line.
pub fn start(a: &SweepArgs) -> Result<Sweep> {
    if a.param_file.is_some() && !a.params.is_empty() {
        bail!("--param-file lists the configurations itself; give it or --param, not both");
    }
    let configs = match &a.param_file {
        Some(f) => grid::from_file(f)?,
        None => grid::grid(&a.params)?,
    };
    let configs = grid::name(configs);
    seconds(a.serve_timeout, a.serve_grace)?;
    let template = Template {
        serve: a.serve.clone(),
        run: with_unused_params(a, &configs)?,
        serve_timeout_s: a.serve_timeout,
        serve_grace_s: a.serve_grace,
    };
    // After the parameters become flags: a parameter may name a secret's flag too.
    refuse_secrets(&template.run)?;
    for c in &configs {
        configure(&template, c, Some(1))
            .with_context(|| format!("configuration {} ({})", c.dir, c.name))?;
    }
    crate::output::files::ensure_results_root(&a.results_dir)?;
    let now = chrono::Local::now();
    let dir = new_dir(
        &a.results_dir,
        &now.format("sweep_%Y-%m-%d_%H-%M-%S").to_string(),
    )?;
    let mut file = SweepFile {
        tool: "redline".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        started: now.to_rfc3339(),
        serve: template.serve.clone(),
        run_flags: template.run.clone(),
        serve_timeout_s: a.serve_timeout,
        serve_grace_s: a.serve_grace,
        frontier_axes: ["output_tok_s_per_gpu".into(), "per_user_tok_s".into()],
        configurations: configs.iter().map(pending).collect(),
    };
    file.write(&dir)?;
    Ok(Sweep {
        dir,
        file,
        template,
    })
}

/// A sweep read back from its folder; interrupted configurations' folders are kept aside under
/// a new name and the configurations run again.
pub fn resume(a: &SweepArgs, dir: &Path) -> Result<Sweep> {
    if a.serve.is_some() || !a.params.is_empty() || a.param_file.is_some() || !a.run.is_empty() {
        bail!("--resume {} continues the sweep with the settings it was started with; give no other flag", dir.display());
    }
    let mut file = SweepFile::read(dir)?;
    seconds(file.serve_timeout_s, file.serve_grace_s)
        .with_context(|| format!("{}: its server limits", dir.join("sweep.json").display()))?;
    for e in &mut file.configurations {
        // A configuration cut short before sweep.json said so (a hard exit) left a run behind.
        let cut = e.status == Status::Pending && RunFolder::open(&dir.join(&e.dir)).holds_a_run();
        if e.status != Status::Interrupted && !cut {
            continue;
        }
        let from = dir.join(&e.dir);
        if from.exists() {
            let aside = new_name(dir, &format!("{}.interrupted", e.dir));
            std::fs::rename(&from, &aside)
                .with_context(|| format!("cannot move the interrupted {} aside", from.display()))?;
            eprintln!(
                "Kept the interrupted run of {} in {}",
                e.name,
                aside.display()
            );
        }
        *e = Entry {
            status: Status::Pending,
            ..pending_of(e)
        };
    }
    let template = Template {
        serve: file.serve.clone(),
        run: file.run_flags.clone(),
        serve_timeout_s: file.serve_timeout_s,
        serve_grace_s: file.serve_grace_s,
    };
    file.write(dir)?;
    Ok(Sweep {
        dir: dir.to_path_buf(),
        file,
        template,
    })
}

/// The server's time limits: above 0 and at most a week (a `Duration` holds them).
fn seconds(timeout: f64, grace: f64) -> Result<()> {
    for (flag, v) in [("--serve-timeout", timeout), ("--serve-grace", grace)] {
        if !(v.is_finite() && v > 0.0 && v <= 7.0 * 86_400.0) {
            bail!("{flag} {v}: give a number of seconds above 0 and at most 604800 (a week)");
        }
    }
    Ok(())
}

fn pending(c: &Configuration) -> Entry {
    Entry {
        name: c.name.clone(),
        dir: c.dir.clone(),
        params: c.params.iter().cloned().collect(),
        status: Status::Pending,
        reason: None,
        port: None,
        server_ready_s: None,
        at_capacity: None,
        pareto: false,
    }
}

fn pending_of(e: &Entry) -> Entry {
    Entry {
        reason: None,
        port: None,
        server_ready_s: None,
        at_capacity: None,
        pareto: false,
        ..e.clone()
    }
}

/// One configuration's run: its flags filled in (with `port`) and parsed, the `Config`, and the
/// GPUs its throughput is divided by.
pub fn configure(t: &Template, c: &Configuration, port: Option<u16>) -> Result<(Config, u32)> {
    let values = c.values(port);
    let flags: Vec<String> = t.run.iter().map(|f| grid::fill(f, &values)).collect();
    let mut args = run_flags(&flags).map_err(|e| anyhow!("the run's flags: {e}"))?;
    let gpus = gpus(&mut args);
    let cfg = Config::from_args(&args)?;
    if !matches!(cfg.levels, Levels::Rates(_) | Levels::Search(_)) {
        bail!("a sweep compares capacities in requests per second: give --qps levels or --qps auto (not --concurrency or --trace)");
    }
    if cfg.shard.is_some() {
        bail!("--shard does not apply to a sweep: each configuration is measured by this process");
    }
    Ok((cfg, gpus))
}

/// `--num-gpus` alone (no `--gpu-rate`) sets the GPUs a sweep divides throughput by; it is taken
/// out of the run's pricing, which needs both.
fn gpus(args: &mut BenchArgs) -> u32 {
    let n = args.pricing.num_gpus.unwrap_or(1);
    if args.pricing.gpu_rate.is_none() {
        args.pricing.num_gpus = None;
    }
    n
}

/// The run flags, checked against the placeholders: every `{name}` must be a parameter (or
/// `{port}` with --serve), and a parameter used in no placeholder must name a run flag, which is
/// then appended (`max_tokens=128` -> `--max-tokens 128`, filled per configuration).
fn with_unused_params(a: &SweepArgs, configs: &[Configuration]) -> Result<Vec<String>> {
    let names: BTreeSet<String> = configs
        .iter()
        .flat_map(|c| c.params.iter().map(|(k, _)| k.clone()))
        .collect();
    let mut used = BTreeSet::new();
    let texts = a
        .serve
        .iter()
        .map(|s| ("--serve", s))
        .chain(a.run.iter().map(|r| ("the run's flags", r)));
    for (place, text) in texts {
        for p in grid::placeholders(text) {
            if p == "port" && a.serve.is_none() {
                bail!("{{port}} in {place} needs --serve: the sweep picks a port for the server it starts");
            }
            if p != "port" && !names.contains(&p) {
                bail!("{{{p}}} in {place} names no parameter; add --param {p}=v1,v2,...");
            }
            used.insert(p);
        }
    }
    // The server the sweep starts must be the one measured.
    let serve_port = a
        .serve
        .as_deref()
        .is_some_and(|s| grid::placeholders(s).contains("port"));
    let endpoint_port = a.run.iter().any(|r| grid::placeholders(r).contains("port"));
    if serve_port && !endpoint_port {
        bail!("--serve starts each server on {{port}}, but the run's flags name no {{port}}: give --endpoint http://127.0.0.1:{{port}}, so that the server started is the one measured");
    }
    if a.serve.is_some() && !serve_port {
        eprintln!("note: --serve has no {{port}}: every configuration's server listens where the command says");
    }
    let mut run = a.run.clone();
    for n in names.difference(&used) {
        let flag = format!("--{}", n.replace('_', "-"));
        if !is_run_flag(&flag) {
            bail!("--param {n} is used nowhere: put {{{n}}} in --serve or a run flag, or name a redline flag (max_tokens is passed as --max-tokens)");
        }
        run.extend([flag, format!("{{{n}}}")]);
    }
    if a.run.is_empty() {
        bail!("give the run's flags after the sweep's: --endpoint URL --model M --dataset FILE --qps auto ...");
    }
    Ok(run)
}

/// A sweep's flags are saved in `sweep.json` for `--resume`: keys must come from the environment.
fn refuse_secrets(run: &[String]) -> Result<()> {
    for f in run {
        let name = f.split('=').next().unwrap_or_default();
        if name == "--api-key" || name == "--header" || name.starts_with("-H") {
            bail!("--api-key and --header on a sweep's command line (or as a --param) would be saved in sweep.json and shown in its report; give the key with --api-key-env VAR (or OPENAI_API_KEY), a header with --header-env 'Name: VAR'");
        }
        let url = reqwest::Url::parse(f);
        if url.is_ok_and(|u| !u.username().is_empty() || u.password().is_some()) {
            bail!("a URL with credentials on a sweep's command line would be saved in sweep.json; give them with --header-env or --api-key-env");
        }
    }
    Ok(())
}

fn new_dir(root: &Path, name: &str) -> Result<PathBuf> {
    let dir = new_name(root, name);
    std::fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// `root/name`, or `root/name_2`, ... : a name nothing holds yet.
fn new_name(root: &Path, name: &str) -> PathBuf {
    (1..)
        .map(|n| match n {
            1 => root.join(name),
            n => root.join(format!("{name}_{n}")),
        })
        .find(|p| !p.exists())
        .unwrap_or_else(|| root.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(resume: &Path) -> SweepArgs {
        SweepArgs {
            serve: None,
            params: vec![],
            param_file: None,
            serve_timeout: 300.0,
            serve_grace: 10.0,
            resume: Some(resume.to_path_buf()),
            results_dir: "results".into(),
            run: vec![],
        }
    }

    #[test]
    fn a_resume_sets_aside_a_run_cut_short_before_sweep_json_said_so() {
        let dir = tempfile::tempdir().unwrap();
        let configs = grid::name(grid::grid(&["n=1,2,3".to_string()]).unwrap());
        let mut file = SweepFile {
            tool: "redline".into(),
            version: "0".into(),
            started: "then".into(),
            serve: None,
            run_flags: vec!["--qps".into(), "1".into()],
            serve_timeout_s: 300.0,
            serve_grace_s: 10.0,
            frontier_axes: ["x".into(), "y".into()],
            configurations: configs.iter().map(pending).collect(),
        };
        file.configurations[0].status = Status::Done;
        file.write(dir.path()).unwrap();
        // Configuration 2 started (its metadata is written) but the hard exit came before
        // sweep.json was; configuration 3 never started.
        let cut = dir.path().join(&configs[1].dir);
        std::fs::create_dir_all(&cut).unwrap();
        std::fs::write(cut.join("metadata.json"), "{}").unwrap();
        let resumed = resume(&args(dir.path()), dir.path()).unwrap();
        let status: Vec<Status> = resumed
            .file
            .configurations
            .iter()
            .map(|e| e.status)
            .collect();
        assert_eq!(status, [Status::Done, Status::Pending, Status::Pending]);
        assert!(!cut.exists());
        let aside = dir.path().join(format!("{}.interrupted", configs[1].dir));
        assert!(aside.join("metadata.json").exists());
        // A limit edited out of range is refused, not a panic later.
        file.serve_grace_s = -1.0;
        file.write(dir.path()).unwrap();
        let e = format!("{:#}", resume(&args(dir.path()), dir.path()).err().unwrap());
        assert!(e.contains("--serve-grace -1"), "{e}");
    }
}
