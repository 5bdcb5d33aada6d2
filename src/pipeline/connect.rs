//! Connecting before the first level: the run's transport said in the console, its first
//! connection opened (https: a certificate problem stops the run here, with its cause and the flag
//! that fixes it), and the samples' request bodies built once, with `ignore_eos` where it is wanted
//! and the endpoint accepts it.

use crate::cli::IgnoreEos;
use crate::config::{self, Config};
use crate::measure::record::ErrorKind;
use crate::measure::target::Target;
use crate::pipeline::workload::Prepared;
use anyhow::Result;

/// The run's transport, said in the console, with its first connection opened (https): a
/// certificate problem stops the run here, with its cause and the flag that fixes it. Then the
/// samples' requests, with `ignore_eos` where it is wanted and accepted.
pub async fn connect(cfg: &Config, prepared: &Prepared) -> Result<Target> {
    let mut target = Target::new(cfg)?;
    let route = Target::route_of(cfg);
    if cfg.tls.insecure {
        eprintln!("warning: --insecure: the endpoint's certificate is not verified; anyone on the path could answer instead of it");
    }
    if let Some(p) = &cfg.proxy {
        eprintln!("Proxy: {} (from {})", config::redact_url(&p.url), p.source);
    }
    match route.why {
        Some(why) => eprintln!(
            "Client: reqwest, {} ({why}; the send time is when reqwest takes the request, so a connection set-up shows in latency, not in schedule lag)",
            route.protocol
        ),
        None => eprintln!("Client: {}, {}", route.client, route.protocol),
    }
    if let Err(f) = target.warm().await {
        if f.kind == ErrorKind::Tls {
            anyhow::bail!("cannot open a TLS connection to the endpoint: {}", f.detail);
        }
        eprintln!(
            "warning: could not connect before the first level ({}: {}); the levels will show how requests fare",
            f.kind, f.detail
        );
    }
    let ignore_eos = ignore_eos(cfg, &target).await;
    target.load(&prepared.conversations, ignore_eos);
    Ok(target)
}

/// Whether requests carry `"ignore_eos": true`: always with `--ignore-eos on`; with `auto`, when
/// the prompts have target reply lengths and the endpoint names a server known to accept it.
async fn ignore_eos(cfg: &Config, target: &Target) -> bool {
    const ACCEPTING: [&str; 5] = ["vllm", "sglang", "llamacpp", "llama.cpp", "redline"];
    match cfg.workload.ignore_eos {
        // A whole reply (embeddings, rerank) has no tokens to pin.
        _ if cfg.api.batched() => false,
        IgnoreEos::On => true,
        IgnoreEos::Off => false,
        IgnoreEos::Auto if !cfg.workload.has_output_lengths() => false,
        IgnoreEos::Auto => {
            // The server of the model under test (a gateway may list models of several servers);
            // a list of one model speaks for it.
            let owner = target.models().await.and_then(|m| {
                let only = m.len() == 1;
                m.into_iter()
                    .find(|(id, _)| only || *id == cfg.model)
                    .and_then(|(_, owner)| owner)
            });
            let accepts = owner
                .as_deref()
                .is_some_and(|o| ACCEPTING.contains(&o.to_ascii_lowercase().as_str()));
            match (&owner, accepts) {
                (Some(o), true) => eprintln!("Reply lengths: pinned with max_tokens and ignore_eos (the endpoint says it is {o:?}, which accepts ignore_eos)"),
                (Some(o), false) => eprintln!("Reply lengths: max_tokens only; the endpoint says it is {o:?}, not known to accept ignore_eos, so replies may end early (--ignore-eos on sends it anyway)"),
                (None, _) => eprintln!("Reply lengths: max_tokens only; the endpoint does not say which server it is, so ignore_eos is not sent and replies may end early (--ignore-eos on sends it anyway)"),
            }
            accepts
        }
    }
}
