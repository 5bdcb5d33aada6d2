//! The integration tests, one module per subject, in one test binary (one link instead of one per
//! file). Each drives the real `redline` binary or the library against the simulator, or a fake
//! endpoint, on 127.0.0.1; `common` holds the shared helpers.

mod apis;
mod calibrate;
mod cli;
mod common;
mod compare;
mod compat;
mod confidence;
mod datasets;
mod deploy;
mod engine;
mod faults;
mod images;
mod interrupt;
mod layers;
mod lora;
mod preflight;
mod proxy;
mod report;
mod run;
mod secrets;
mod server_metrics;
mod shard;
mod sim;
mod slo;
mod sweep;
mod tls;
mod tokens;
mod tools;
mod truth;
mod wire;
mod workloads;
