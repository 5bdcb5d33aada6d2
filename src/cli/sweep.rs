//! `redline sweep`'s flags: its own (the server template, the parameters, the server's time
//! limits, `--resume`), and the run's flags as the user typed them, with `{name}` placeholders that
//! the sweep fills in for each configuration before they are parsed here as a run's (`run_flags`).
//!
//! The run's flags are the user's own argv (a template), not values turned back into argv: each
//! configuration's copy is parsed once, with the same parser and the same errors as `redline ...`.

use crate::cli::bench::BenchArgs;
use crate::cli::values::defaults;
use clap::{Args, CommandFactory, Parser};
use std::path::PathBuf;

/// `redline sweep`.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// The server command started for each configuration, run by `sh -c` in its own process
    /// group, e.g. 'llama-server -m model.gguf --port {port} -np {slots}'. `{port}` is a free port
    /// picked per configuration; `{name}` is that configuration's value of --param name. Without
    /// it, the sweep measures --endpoint as it is, with redline's own parameters swept.
    #[arg(long, value_name = "COMMAND")]
    pub serve: Option<String>,
    /// A parameter and its values, name=v1,v2,...; several --param make the grid of every
    /// combination. Used as {name} in --serve, --endpoint and the run's flags; a name used nowhere
    /// that is a redline flag (max_tokens -> --max-tokens) is passed as that flag.
    #[arg(long = "param", value_name = "NAME=V1,V2,...")]
    pub params: Vec<String>,
    /// An explicit list of configurations instead of a grid: a JSON array of objects, e.g.
    /// [{"tp": 1, "seqs": 64}, {"tp": 2, "seqs": 128}].
    #[arg(long, value_name = "FILE", conflicts_with = "params")]
    pub param_file: Option<PathBuf>,
    /// Seconds each server has to answer /health or /v1/models before its configuration is
    /// recorded as failed.
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub serve_timeout: f64,
    /// Seconds a server has to exit after SIGTERM before its process group is killed.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    pub serve_grace: f64,
    /// Continue the sweep in this folder: finished configurations are kept, the others run (with
    /// the settings the sweep was started with; give no other flag).
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// The folder under which the sweep's folder (sweep_<timestamp>) is made.
    #[arg(long, default_value = defaults::RESULTS_DIR)]
    pub results_dir: PathBuf,
    /// The run's flags, as for `redline` itself, with placeholders: --endpoint
    /// http://127.0.0.1:{port} --model M --dataset D --qps auto ...
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "RUN FLAGS"
    )]
    pub run: Vec<String>,
}

/// Sweep's own flags that take a value, and those that do not (for `own_flags`).
const OWN_VALUED: [&str; 6] = [
    "--serve",
    "--param",
    "--param-file",
    "--serve-timeout",
    "--serve-grace",
    "--resume",
];
const RESULTS_DIR: &str = "--results-dir";

impl SweepArgs {
    /// Moves sweep's own flags that were typed among the run's flags (clap stops at the first
    /// run flag and hands it all the rest) back to the sweep's, so they may come in any order.
    pub fn own_flags(mut self) -> Result<SweepArgs, String> {
        let mut rest = Vec::new();
        let mut args = std::mem::take(&mut self.run).into_iter();
        while let Some(a) = args.next() {
            let (name, inline) = match a.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
                _ => (a.clone(), None),
            };
            if !OWN_VALUED.contains(&name.as_str()) && name != RESULTS_DIR {
                rest.push(a);
                continue;
            }
            let value = match inline.or_else(|| args.next()) {
                Some(v) => v,
                None => return Err(format!("{name} needs a value")),
            };
            self.set(&name, value)?;
        }
        self.run = rest;
        Ok(self)
    }

    fn set(&mut self, name: &str, v: String) -> Result<(), String> {
        let number = |v: &str| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| format!("{name} {v}: not a number of seconds"))
        };
        match name {
            "--serve" => self.serve = Some(v),
            "--param" => self.params.push(v),
            "--param-file" => self.param_file = Some(v.into()),
            "--serve-timeout" => self.serve_timeout = number(&v)?,
            "--serve-grace" => self.serve_grace = number(&v)?,
            "--resume" => self.resume = Some(v.into()),
            _ => self.results_dir = v.into(),
        }
        Ok(())
    }
}

/// A run's flags alone: what `redline ...` parses when no command is named.
#[derive(Debug, Parser)]
#[command(name = "redline")]
struct RunFlags {
    #[command(flatten)]
    bench: BenchArgs,
}

/// One configuration's run flags (placeholders filled in), parsed as `redline`'s own: the same
/// defaults, checks and error messages.
pub fn run_flags(flags: &[String]) -> Result<BenchArgs, String> {
    let argv = std::iter::once("redline".to_string()).chain(flags.iter().cloned());
    RunFlags::try_parse_from(argv)
        .map(|r| r.bench)
        .map_err(|e| e.render().to_string().trim_end().to_string())
}

/// Whether `--name` is one of a run's flags (for a parameter used in no placeholder).
pub fn is_run_flag(name: &str) -> bool {
    RunFlags::command().get_arguments().any(|a| {
        a.get_long()
            .is_some_and(|l| name.strip_prefix("--") == Some(l))
    })
}
