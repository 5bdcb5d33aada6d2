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

/// The confidence of every interval redline gives.
pub const CONFIDENCE: f64 = 0.95;
/// The normal quantile of [`CONFIDENCE`], two-sided.
const Z: f64 = 1.959_963_984_540_054;

/// A 95% interval; a side is `None` when the data cannot bound it (a p99 of 20 values has no
/// upper bound: nothing above the largest value was seen).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: Option<f64>,
    pub high: Option<f64>,
}

impl Serialize for Interval {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [self.low.map(round6), self.high.map(round6)].serialize(s)
    }
}

/// The 0-based ranks of the order statistics that bound the `p`th percentile of `n` values with
/// [`CONFIDENCE`], distribution-free: the count of values below the true percentile is
/// Binomial(n, p/100), and its normal approximation (with a continuity correction) gives the ranks
/// `j` and `k` with P(x[j] <= true <= x[k]) >= 95%. `None` on a side the values cannot reach.
pub fn interval_ranks(n: usize, p: f64) -> (Option<usize>, Option<usize>) {
    widened_ranks(n, p, 1.0)
}

/// [`interval_ranks`] with the count's standard deviation `inflation` times the binomial one: for
/// values that come in runs (see [`run_inflation`]).
fn widened_ranks(n: usize, p: f64, inflation: f64) -> (Option<usize>, Option<usize>) {
    if n == 0 {
        return (None, None);
    }
    let q = (p / 100.0).clamp(0.0, 1.0);
    let (mean, sd) = (n as f64 * q, inflation * (n as f64 * q * (1.0 - q)).sqrt());
    // 1-based order statistics X(j) and X(k): coverage P(j <= B <= k - 1), B ~ Bin(n, q).
    let j = (mean - Z * sd - 0.5).floor();
    let k = (mean + Z * sd + 0.5).ceil() + 1.0;
    let low = (j >= 1.0).then(|| j as usize - 1);
    let high = (k <= n as f64).then(|| k as usize - 1);
    (low, high)
}

/// How much wider than the binomial a percentile's interval must be for `ordered` values (in the
/// order they were measured) that come in runs: requests served side by side in one batch share
/// their fate, so the count below a percentile varies more than independent draws would. With
/// `rho` the lag-1 autocorrelation of the indicators `value <= at`, an AR(1) sequence's count has
/// `sqrt((1 + rho) / (1 - rho))` times the independent standard deviation. 1 when uncorrelated.
pub fn run_inflation(ordered: &[f64], at: f64) -> f64 {
    let n = ordered.len();
    if n < 3 {
        return 1.0;
    }
    let below = |v: f64| if v <= at { 1.0 } else { 0.0 };
    let m = ordered.iter().map(|&v| below(v)).sum::<f64>() / n as f64;
    let var: f64 = ordered.iter().map(|&v| (below(v) - m).powi(2)).sum();
    if var <= 0.0 {
        return 1.0;
    }
    let cov: f64 = ordered
        .windows(2)
        .map(|w| (below(w[0]) - m) * (below(w[1]) - m))
        .sum();
    let rho = (cov / var).clamp(0.0, 0.9);
    ((1.0 + rho) / (1.0 - rho)).sqrt()
}

/// The mean of `values`, `None` when empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// The 95% Student t interval of the mean of `values` (independent runs of a quantity that is
/// never negative, so the interval is cut at 0), `None` from fewer than two.
pub fn t_interval(values: &[f64]) -> Option<Interval> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let m = mean(values)?;
    let sd = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
    let half =
        distrs::StudentsT::ppf(0.5 + CONFIDENCE / 2.0, (n - 1) as f64) * sd / (n as f64).sqrt();
    Some(Interval {
        low: Some((m - half).max(0.0)),
        high: Some(m + half),
    })
}

/// The values at `ranks` (0-based, ascending) of unsorted `values`, by selection: each selection
/// leaves the higher ranks to its right, so the next one searches a shrinking slice.
fn select_ranks(values: &mut [f64], ranks: &[usize]) -> Vec<f64> {
    let mut from = 0;
    ranks
        .iter()
        .map(|&r| {
            let (_, v, _) = values[from..].select_nth_unstable_by(r - from, f64::total_cmp);
            let v = *v;
            from = r;
            v
        })
        .collect()
}

/// An ordered set of `(percentile, value)` pairs, each with its 95% interval, serialised as
/// `{"p50": .., "p50_ci": [low, high], "p99.9": .., ...}`. A value is `null` when there was no
/// sample to measure; an interval's side is `null` when the samples cannot bound it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Percentiles {
    values: Vec<(f64, Option<f64>)>,
    intervals: Vec<Option<Interval>>,
}

impl Percentiles {
    /// The standard percentiles plus `extra` (deduplicated, ascending) of `values` (in the order
    /// measured), each with its distribution-free 95% interval ([`interval_ranks`]), widened for
    /// values that come in runs ([`run_inflation`]).
    pub fn of(mut values: Vec<f64>, extra: &[f64]) -> Self {
        values.retain(|v| v.is_finite());
        let mut ps: Vec<f64> = STANDARD.iter().chain(extra).copied().collect();
        ps.sort_unstable_by(f64::total_cmp);
        ps.dedup();
        let ordered = values.clone();
        let found = select_percentiles(&mut values, &ps);
        let ranks: Vec<(Option<usize>, Option<usize>)> = ps
            .iter()
            .zip(&found)
            .map(|(&p, v)| {
                let inflation = v.map_or(1.0, |v| run_inflation(&ordered, v));
                widened_ranks(values.len(), p, inflation)
            })
            .collect();
        let mut wanted: Vec<usize> = ranks.iter().flat_map(|(l, h)| [*l, *h]).flatten().collect();
        wanted.sort_unstable();
        wanted.dedup();
        // The percentiles' selection reordered the values; the intervals select again.
        let at = select_ranks(&mut values, &wanted);
        let value = |r: Option<usize>| r.and_then(|r| wanted.binary_search(&r).ok().map(|i| at[i]));
        let intervals = ranks
            .iter()
            .map(|&(l, h)| {
                (!values.is_empty()).then(|| Interval {
                    low: value(l),
                    high: value(h),
                })
            })
            .collect();
        Percentiles {
            values: ps.into_iter().zip(found).collect(),
            intervals,
        }
    }

    /// The mean of each percentile over `runs` (repetitions of one level), each with its 95%
    /// Student t interval over the runs (none from fewer than two).
    pub fn mean_over(runs: &[&Percentiles]) -> Self {
        let Some(first) = runs.first() else {
            return Percentiles::default();
        };
        let (values, intervals) = first
            .values
            .iter()
            .map(|&(p, _)| {
                let got: Vec<f64> = runs.iter().filter_map(|r| r.get(p)).collect();
                ((p, mean(&got)), t_interval(&got))
            })
            .unzip();
        Percentiles { values, intervals }
    }

    pub fn get(&self, p: f64) -> Option<f64> {
        self.values
            .iter()
            .find(|(q, _)| *q == p)
            .and_then(|(_, v)| *v)
    }

    /// The 95% interval of percentile `p`, when it was measured.
    pub fn interval(&self, p: f64) -> Option<Interval> {
        let i = self.values.iter().position(|(q, _)| *q == p)?;
        self.intervals.get(i).copied().flatten()
    }

    /// The percentiles and their values, ascending.
    pub fn iter(&self) -> impl Iterator<Item = &(f64, Option<f64>)> {
        self.values.iter()
    }
}

/// The JSON key of a percentile: `p50`, `p99.9`.
pub fn key(p: f64) -> String {
    format!("p{p}")
}

impl Serialize for Percentiles {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2 * self.values.len()))?;
        for ((p, v), ci) in self.values.iter().zip(&self.intervals) {
            map.serialize_entry(&key(*p), &v.map(round6))?;
            map.serialize_entry(&format!("{}_ci", key(*p)), ci)?;
        }
        map.end()
    }
}

/// The 95% interval of a sum over requests divided by `over` (a throughput), by the normal
/// approximation of the bootstrap over requests: resampling `n` requests gives the sum a variance
/// of n times the per-request variance, computed here in closed form.
pub fn sum_interval(per_request: &[f64], over: f64) -> Option<Interval> {
    let n = per_request.len();
    if n < 2 || over <= 0.0 {
        return None;
    }
    let mean = per_request.iter().sum::<f64>() / n as f64;
    let var = per_request.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let (sum, half) = (mean * n as f64, Z * (var * n as f64).sqrt());
    Some(Interval {
        low: Some(((sum - half) / over).max(0.0)),
        high: Some((sum + half) / over),
    })
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
        let keys: Vec<String> = p.iter().map(|(q, _)| key(*q)).collect();
        assert_eq!(keys, ["p50", "p90", "p95", "p99", "p99.9"]);
        assert_eq!(p.get(50.0), Some(2.0));
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.starts_with("{\"p50\":2.0,"), "{json}");
    }

    #[test]
    fn empty_percentiles_serialise_as_null() {
        let json = serde_json::to_string(&Percentiles::of(vec![], &[])).unwrap();
        assert_eq!(
            json,
            r#"{"p50":null,"p50_ci":null,"p90":null,"p90_ci":null,"p95":null,"p95_ci":null,"p99":null,"p99_ci":null}"#
        );
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
    fn a_percentiles_interval_covers_the_truth_as_often_as_it_says() {
        // Uniform values on [0, 1): the true pth percentile is p / 100.
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for n in [30, 200, 1000] {
            for p in [50.0, 90.0, 99.0] {
                let (mut covered, mut bounded) = (0, 0);
                for _ in 0..400 {
                    let v: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
                    let Some(ci) = Percentiles::of(v, &[]).interval(p) else {
                        continue;
                    };
                    let (Some(lo), Some(hi)) = (ci.low, ci.high) else {
                        continue;
                    };
                    bounded += 1;
                    covered += usize::from(lo <= p / 100.0 && p / 100.0 <= hi);
                }
                if bounded > 0 {
                    let rate = covered as f64 / bounded as f64;
                    assert!(rate >= 0.93, "n {n}, p{p}: {rate}");
                }
            }
        }
        // Too few values to bound a p99 from above: that side is open.
        assert_eq!(interval_ranks(20, 99.0).1, None);
        // 0..100 in a scrambled order, as independent draws come.
        let scrambled = (0..100).map(|i| f64::from(i * 37 % 100)).collect();
        let json = serde_json::to_string(&Percentiles::of(scrambled, &[])).unwrap();
        assert!(json.contains("\"p50_ci\":[38.0,61.0]"), "{json}");
    }

    #[test]
    fn values_that_come_in_runs_get_a_wider_interval_than_independent_ones() {
        // The same 1,000 values, scrambled, or in runs of 25 on one side of the median (as requests
        // served side by side in one batch come).
        let scrambled: Vec<f64> = (0..1000).map(|i| f64::from(i * 379 % 1000)).collect();
        let runs: Vec<f64> = (0..1000)
            .map(|i| f64::from((i % 50) * 20 + i / 50))
            .collect();
        assert!(run_inflation(&scrambled, 500.0) < 1.1);
        assert!(run_inflation(&runs, 500.0) > 2.0);
        let width = |v: Vec<f64>| {
            let ci = Percentiles::of(v, &[]).interval(50.0).unwrap();
            ci.high.unwrap() - ci.low.unwrap()
        };
        assert!(width(runs) > 2.0 * width(scrambled));
    }

    #[test]
    fn a_throughputs_interval_widens_with_the_spread_of_its_requests() {
        let even = sum_interval(&[10.0; 100], 10.0).unwrap();
        assert_eq!((even.low, even.high), (Some(100.0), Some(100.0)));
        let spread: Vec<f64> = (0..100)
            .map(|i| if i % 2 == 0 { 0.0 } else { 20.0 })
            .collect();
        let ci = sum_interval(&spread, 10.0).unwrap();
        assert!(
            ci.low.unwrap() < 100.0 && ci.high.unwrap() > 100.0,
            "{ci:?}"
        );
    }

    #[test]
    fn lag_summary() {
        let s = LagSummary::of(vec![0.003, 0.001, 0.002]);
        assert_eq!(s.p50, Some(0.002));
        assert_eq!(s.max, Some(0.003));
    }
}
