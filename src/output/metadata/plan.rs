//! Which plan a run belongs to: the settings of `metadata.json` that shape what is sent, in one
//! table ([`SETTINGS`]) that also says which settings `redline compare` lists when they differ, so
//! the two lists cannot drift apart. Two shards are of one plan when their plan settings are
//! equal; [`Metadata::plan_id`] names the plan with a hash of them. Also how a shard's metadata is
//! made ([`Metadata::as_shard`]) and how its start went ([`Metadata::record_start`]).

use crate::config::Shard;
use crate::measure::record::LevelRun;
use crate::measure::time::round6;
use crate::output::metadata::schema::{Metadata, ShardInfo};

/// A setting of `metadata.json` by its key (`a.b` reads into an object), and what it is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Setting {
    pub key: &'static str,
    /// It shapes the plan: shards of one plan agree on it.
    pub plan: bool,
    /// `redline compare` lists it, first, when the runs differ in it.
    pub compared: bool,
}

const fn both(key: &'static str) -> Setting {
    Setting {
        key,
        plan: true,
        compared: true,
    }
}

const fn plan(key: &'static str) -> Setting {
    Setting {
        key,
        plan: true,
        compared: false,
    }
}

const fn compared(key: &'static str) -> Setting {
    Setting {
        key,
        plan: false,
        compared: true,
    }
}

/// Every setting a plan or a comparison reads, in the order `redline compare` lists them. A
/// shard's own levels (`qps_levels`, `concurrency_levels`) are its share and differ by shard; the
/// plan's are `shard.plan_qps_levels` and `shard.plan_concurrency_levels`.
pub const SETTINGS: [Setting; 41] = [
    both("model"),
    both("dataset"),
    both("dataset_format"),
    plan("dataset_samples"),
    both("synthetic"),
    both("trace"),
    both("sessions"),
    both("sample_order"),
    both("tokenizer.sha256"),
    both("max_tokens"),
    both("temperature"),
    both("arrival"),
    both("burstiness"),
    both("ramp_up_s"),
    plan("seed"),
    both("endpoint"),
    both("connection.protocol"),
    plan("api"),
    both("batch_size"),
    both("images"),
    both("audio"),
    both("lora"),
    both("tools"),
    both("duration"),
    plan("timeout"),
    compared("qps_levels"),
    compared("concurrency_levels"),
    both("extra_body"),
    both("stream_usage"),
    both("ignore_eos"),
    plan("max_concurrency"),
    plan("shuffle"),
    plan("max_samples"),
    plan("ttft_timeout"),
    plan("start_at"),
    plan("level_gap_s"),
    plan("shard.count"),
    plan("shard.plan_qps_levels"),
    plan("shard.plan_concurrency_levels"),
    compared("gpu_rate"),
    compared("num_gpus"),
];

/// The keys `redline compare` lists when they differ, in order.
pub fn compared_keys() -> impl Iterator<Item = &'static str> {
    SETTINGS.iter().filter(|s| s.compared).map(|s| s.key)
}

/// The value at `key` (`a.b` reads into an object) of a metadata file read as JSON; null where
/// it has none.
pub fn setting<'a>(meta: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    key.split('.').fold(meta, |v, k| &v[k])
}

impl Metadata {
    /// The plan's settings as JSON, by key, in [`SETTINGS`] order.
    pub fn plan(&self) -> Vec<(&'static str, serde_json::Value)> {
        let v = serde_json::to_value(self).unwrap_or_default();
        // Keys added after plans were first hashed count only when set, so a plan without them
        // keeps the id it had.
        const ADDED: [&str; 5] = ["batch_size", "images", "audio", "lora", "tools"];
        SETTINGS
            .iter()
            .filter(|s| s.plan)
            .map(|s| (s.key, setting(&v, s.key).clone()))
            .filter(|(k, v)| !(v.is_null() && ADDED.contains(k)))
            .collect()
    }

    /// A short hash of [`Metadata::plan`].
    pub fn plan_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_string(&self.plan()).unwrap_or_default();
        Sha256::digest(text.as_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Makes this the metadata of shard `shard` of the plan it describes: the plan's levels move
    /// under `shard`, and this run's own (`qps_levels`, its shares of the rates) are filled as the
    /// levels run; a closed-loop level's own workers are the shard's share of the plan's.
    pub fn as_shard(&mut self, shard: Shard, host: String) {
        let plan_qps_levels = std::mem::take(&mut self.qps_levels);
        let plan_concurrency_levels = self.concurrency_levels.clone();
        // A shard runs worker w of a closed-loop level when w mod N is its index.
        if let Some(levels) = &mut self.concurrency_levels {
            for n in levels.iter_mut() {
                *n = shard.share_of(*n);
            }
        }
        self.shard = Some(ShardInfo {
            index: shard.index,
            count: shard.count,
            plan_id: String::new(),
            plan_qps_levels,
            plan_concurrency_levels,
            host,
            started_at: None,
            first_send_lag_s: None,
        });
        let id = self.plan_id();
        if let Some(s) = &mut self.shard {
            s.plan_id = id;
        }
    }

    /// Notes how the first level started: its wall-clock start (`started_at`, as this machine's
    /// clock tells it) and the lag of its first send.
    pub fn record_start(
        &mut self,
        run: &LevelRun,
        started_at: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let Some(s) = &mut self.shard else { return };
        s.started_at = started_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
        s.first_send_lag_s = run
            .records
            .iter()
            .min_by(|a, b| a.planned_s.total_cmp(&b.planned_s))
            .and_then(|r| r.lag_s())
            .map(round6);
    }
}
