//! Percentiles and small summaries: the one statistics module.
//!
//! Every percentile redline reports (TTFT, E2E, tokens/s, ITL, TPOT, schedule lag) uses
//! [`percentile`]: linear interpolation between closest ranks, the definition numpy uses by default
//! (`numpy.percentile(..., method="linear")`). For sorted values `x[0..n]` and `p` in 0..=100 the rank
//! is `r = p/100 * (n-1)`; the result is `x[floor r] + (x[ceil r] - x[floor r]) * (r - floor r)`.
//! `level.rs` calls [`Percentiles::of`] to build the JSON objects.

use crate::measure::time::{micro, round6};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// The percentile of already sorted, finite values, or `None` when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64))
}

/// The same values as [`percentile`] on sorted data, for ascending `ps`, without sorting: each
/// percentile needs only the values at its two closest ranks, found by selection (O(n) each), and
/// each selection leaves the higher ranks to its right, so the next one searches a shrinking slice.
/// Summarising a million records this way takes a fraction of a full sort.
pub fn select_percentiles(values: &mut [f64], ps: &[f64]) -> Vec<Option<f64>> {
    let n = values.len();
    let mut lo_bound = 0;
    ps.iter()
        .map(|&p| {
            if n == 0 {
                return None;
            }
            let rank = (p / 100.0).clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = rank.floor() as usize;
            let hi = rank.ceil() as usize;
            // Ranks below `lo_bound` were placed by an earlier selection.
            let (_, lo_v, _) =
                values[lo_bound..].select_nth_unstable_by(lo - lo_bound, f64::total_cmp);
            let lo_v = *lo_v;
            lo_bound = lo;
            let hi_v = if hi == lo {
                lo_v
            } else {
                values[lo + 1..]
                    .iter()
                    .copied()
                    .fold(f64::INFINITY, f64::min)
            };
            Some(lo_v + (hi_v - lo_v) * (rank - lo as f64))
        })
        .collect()
}

/// Sorts values for [`percentile`], dropping any non-finite value (none should occur).
pub fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.retain(|v| v.is_finite());
    values.sort_unstable_by(f64::total_cmp);
    values
}

/// The percentiles always reported (as in the reference tool's JSON), before any the user asks for.
pub const STANDARD: [f64; 4] = [50.0, 90.0, 95.0, 99.0];

/// An ordered set of `(percentile, value)` pairs, serialised as `{"p50": .., "p99.9": ..}`.
/// A value is `null` when there was no sample to measure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Percentiles(pub Vec<(f64, Option<f64>)>);

impl Percentiles {
    /// The standard percentiles plus `extra` (deduplicated, ascending) of `values`.
    pub fn of(mut values: Vec<f64>, extra: &[f64]) -> Self {
        values.retain(|v| v.is_finite());
        let mut ps: Vec<f64> = STANDARD.iter().chain(extra).copied().collect();
        ps.sort_unstable_by(f64::total_cmp);
        ps.dedup();
        let found = select_percentiles(&mut values, &ps);
        Percentiles(ps.into_iter().zip(found).collect())
    }

    pub fn get(&self, p: f64) -> Option<f64> {
        self.0.iter().find(|(q, _)| *q == p).and_then(|(_, v)| *v)
    }
}

/// The JSON key of a percentile: `p50`, `p99.9`.
pub fn key(p: f64) -> String {
    format!("p{p}")
}

impl Serialize for Percentiles {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (p, v) in &self.0 {
            map.serialize_entry(&key(*p), &v.map(round6))?;
        }
        map.end()
    }
}

/// Median, p99 and maximum: how the schedule lag is summarised.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LagSummary {
    #[serde(serialize_with = "micro::opt::serialize")]
    pub p50: Option<f64>,
    #[serde(serialize_with = "micro::opt::serialize")]
    pub p99: Option<f64>,
    #[serde(serialize_with = "micro::opt::serialize")]
    pub max: Option<f64>,
}

impl LagSummary {
    pub fn of(values: Vec<f64>) -> Self {
        let s = sorted(values);
        LagSummary {
            p50: percentile(&s, 50.0),
            p99: percentile(&s, 99.0),
            max: s.last().copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_linear_interpolation() {
        let v = [1.0, 2.0, 3.0, 4.0];
        // rank = 0.5 * 3 = 1.5 -> 2 + (3-2)*0.5
        assert_eq!(percentile(&v, 50.0), Some(2.5));
        // rank = 0.9 * 3 = 2.7 -> 3 + 1*0.7
        assert!((percentile(&v, 90.0).unwrap() - 3.7).abs() < 1e-12);
        // rank = 0.99 * 3 = 2.97 -> 3.97
        assert!((percentile(&v, 99.0).unwrap() - 3.97).abs() < 1e-12);
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 100.0), Some(4.0));
    }

    #[test]
    fn matches_numpy_on_uneven_values() {
        // numpy.percentile([10, 20, 40, 80, 160], [25, 95]) == [20.0, 144.0]
        let v = [10.0, 20.0, 40.0, 80.0, 160.0];
        assert_eq!(percentile(&v, 25.0), Some(20.0));
        assert!((percentile(&v, 95.0).unwrap() - 144.0).abs() < 1e-9);
    }

    #[test]
    fn single_and_empty() {
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn percentiles_include_standard_and_extra_in_order() {
        let p = Percentiles::of(vec![3.0, 1.0, 2.0], &[99.9, 50.0]);
        let keys: Vec<String> = p.0.iter().map(|(q, _)| key(*q)).collect();
        assert_eq!(keys, ["p50", "p90", "p95", "p99", "p99.9"]);
        assert_eq!(p.get(50.0), Some(2.0));
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.starts_with("{\"p50\":2.0,"), "{json}");
    }

    #[test]
    fn empty_percentiles_serialise_as_null() {
        let json = serde_json::to_string(&Percentiles::of(vec![], &[])).unwrap();
        assert_eq!(json, r#"{"p50":null,"p90":null,"p95":null,"p99":null}"#);
    }

    proptest::proptest! {
        /// Selection gives exactly what sorting gives.
        #[test]
        fn selection_matches_sorting(values in proptest::collection::vec(-1e6f64..1e6, 0..300), extra in proptest::collection::vec(0f64..=100.0, 0..4)) {
            let mut ps: Vec<f64> = STANDARD.iter().chain(&extra).copied().collect();
            ps.sort_unstable_by(f64::total_cmp);
            ps.dedup();
            let s = sorted(values.clone());
            let want: Vec<Option<f64>> = ps.iter().map(|&p| percentile(&s, p)).collect();
            let mut v = values;
            proptest::prop_assert_eq!(select_percentiles(&mut v, &ps), want);
        }
    }

    #[test]
    fn lag_summary() {
        let s = LagSummary::of(vec![0.003, 0.001, 0.002]);
        assert_eq!(s.p50, Some(0.002));
        assert_eq!(s.max, Some(0.003));
    }
}
