//! redline's entry point: parse flags, run, print the error chain, set the exit code.

use clap::Parser;
use redline::cli::Cli;
use std::process::ExitCode;

/// What `redline` alone prints: where to start, rather than a list of missing flags.
const START: &str = "redline finds an LLM endpoint's capacity.

Try it on the built-in simulated endpoint (about a minute):
    redline demo

Benchmark an OpenAI-compatible endpoint (the README's first example):
    redline --endpoint https://your-endpoint.com/v1/chat/completions --model MODEL \\
        --dataset data/conversations.json --qps 1,5,10,20 --duration 60

All flags: redline --help";

fn main() -> ExitCode {
    if std::env::args_os().len() == 1 {
        eprintln!("{START}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(redline::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
