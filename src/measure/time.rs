//! Time as every record and file holds it: seconds since the level's start on the monotonic clock,
//! rounded to the microsecond when captured ([`since`], [`round6`]), and serialised the same way
//! ([`micro`]). Rounding at capture makes the record in memory and the one read back from
//! `requests.jsonl` the same numbers, so `redline report` reproduces a run exactly. Used by the
//! measuring stage (`record.rs`, `client.rs`, `runner.rs`) and by `analyze/` for its JSON.

use tokio::time::Instant;

/// Seconds from `start` to `t` (0 when `t` is earlier), rounded by [`round6`].
pub fn since(t: Instant, start: Instant) -> f64 {
    round6(t.saturating_duration_since(start).as_secs_f64())
}

/// Rounds to 6 decimals (a microsecond, for seconds): the clock's useful precision, without float
/// noise like `0.05329159310000035` in the files.
pub fn round6(v: f64) -> f64 {
    (v * 1e6).round() / 1e6
}

/// Serialises an `f64` (or `Option<f64>`) rounded by [`round6`].
pub mod micro {
    use serde::Serializer;
    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(crate::measure::time::round6(*v))
    }
    pub mod opt {
        use serde::Serializer;
        pub fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.serialize_some(&crate::measure::time::round6(*v)),
                None => s.serialize_none(),
            }
        }
    }
    pub mod vec {
        use serde::Serializer;
        pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| crate::measure::time::round6(*x)))
        }
    }
}
