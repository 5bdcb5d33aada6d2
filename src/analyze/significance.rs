//! Whether a difference between two runs' levels is more than noise, from their raw records:
//! `redline compare` marks each level's difference significant or within noise, and gates
//! regressions on it. Tests, two-sided, at [`ALPHA`]:
//! - latencies and per-request tokens/s: the Mann-Whitney U test (a rank test: no assumption on
//!   the shape of the distributions, and one slow outlier moves it no more than any other value),
//!   by the normal approximation with a correction for ties;
//! - success: the two-proportion z-test;
//! - throughput: Welch's test on the per-request tokens whose sum it is, by the normal
//!   approximation (levels hold tens of requests at least).
//!
//! Each returns the p-value, or `None` when either side has too few values ([`MIN_VALUES`]) to
//! test.

/// The significance level: a difference is significant when its p-value is below this.
pub const ALPHA: f64 = 0.05;
/// The fewest values on a side for a test.
pub const MIN_VALUES: usize = 5;

/// The Mann-Whitney U test's two-sided p-value for `a` against `b`.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Option<f64> {
    let (n1, n2) = (a.len(), b.len());
    if n1 < MIN_VALUES || n2 < MIN_VALUES {
        return None;
    }
    let mut all: Vec<(f64, bool)> = a
        .iter()
        .map(|&v| (v, true))
        .chain(b.iter().map(|&v| (v, false)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    // Average ranks over ties, and the ties' correction to the variance.
    let (mut rank_a, mut ties) = (0.0, 0.0);
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let rank = (i + j + 2) as f64 / 2.0;
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        rank_a += rank * all[i..=j].iter().filter(|x| x.1).count() as f64;
        i = j + 1;
    }
    let (n1f, n2f, n) = (n1 as f64, n2 as f64, (n1 + n2) as f64);
    let u = rank_a - n1f * (n1f + 1.0) / 2.0;
    let mean = n1f * n2f / 2.0;
    let var = n1f * n2f / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    if var <= 0.0 {
        // Every value the same on both sides.
        return Some(1.0);
    }
    let z = ((u - mean).abs() - 0.5).max(0.0) / var.sqrt();
    Some(two_sided(z))
}

/// The two-proportion z-test's two-sided p-value for `s1` of `n1` against `s2` of `n2`.
pub fn proportions(s1: u64, n1: u64, s2: u64, n2: u64) -> Option<f64> {
    if (n1 as usize) < MIN_VALUES || (n2 as usize) < MIN_VALUES {
        return None;
    }
    let (p1, p2) = (s1 as f64 / n1 as f64, s2 as f64 / n2 as f64);
    let p = (s1 + s2) as f64 / (n1 + n2) as f64;
    let se = (p * (1.0 - p) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt();
    if se == 0.0 {
        return Some(if p1 == p2 { 1.0 } else { 0.0 });
    }
    Some(two_sided((p1 - p2).abs() / se))
}

/// Welch's test's two-sided p-value for the means of `a` and `b` (at least two values each:
/// repetitions of a level, or per-request figures), from Student's t with the Welch-Satterthwaite
/// degrees of freedom, so a handful of runs is judged as carefully as thousands of requests.
pub fn welch(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let stats = |v: &[f64]| {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
        (m, var / n, n)
    };
    let ((m1, v1, n1), (m2, v2, n2)) = (stats(a), stats(b));
    let se = (v1 + v2).sqrt();
    if se == 0.0 {
        return Some(if m1 == m2 { 1.0 } else { 0.0 });
    }
    let dof = (v1 + v2).powi(2) / (v1 * v1 / (n1 - 1.0) + v2 * v2 / (n2 - 1.0));
    let t = (m1 - m2).abs() / se;
    Some((2.0 * (1.0 - distrs::StudentsT::cdf(t, dof))).clamp(0.0, 1.0))
}

/// P(|Z| >= z) for a standard normal Z.
fn two_sided(z: f64) -> f64 {
    erfc(z / std::f64::consts::SQRT_2).min(1.0)
}

/// The complementary error function, by the rational approximation of Numerical Recipes
/// (`erfcc`, fractional error below 1.2e-7 everywhere).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_normal_tail_matches_its_table() {
        assert!((two_sided(1.959_964) - 0.05).abs() < 1e-6);
        assert!((two_sided(0.0) - 1.0).abs() < 1e-6);
        assert!((two_sided(3.0) - 0.002_699_8).abs() < 1e-6);
    }

    #[test]
    fn samples_of_one_distribution_are_rarely_called_different() {
        // Two draws of the same distribution: about ALPHA of the pairs differ significantly.
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut draw = |n: usize| -> Vec<f64> { (0..n).map(|_| rng.random::<f64>()).collect() };
        let trials = 400;
        let false_alarms = (0..trials)
            .filter(|_| mann_whitney(&draw(60), &draw(60)).unwrap() < ALPHA)
            .count();
        assert!(
            false_alarms as f64 / trials as f64 <= 0.08,
            "{false_alarms}"
        );
    }

    #[test]
    fn a_real_shift_is_found_and_ties_are_handled() {
        let fast: Vec<f64> = (0..50).map(|i| 0.05 + (i % 7) as f64 * 0.001).collect();
        let slow: Vec<f64> = fast.iter().map(|v| v + 0.1).collect();
        assert!(mann_whitney(&fast, &slow).unwrap() < 1e-6);
        assert_eq!(mann_whitney(&[1.0; 10], &[1.0; 10]), Some(1.0));
        assert_eq!(mann_whitney(&[1.0; 3], &[1.0; 10]), None);
        assert!(proportions(100, 100, 80, 100).unwrap() < 0.001);
        assert!(proportions(99, 100, 98, 100).unwrap() > 0.5);
        assert!(welch(&[10.0; 20], &[10.0; 20]).unwrap() == 1.0);
    }

    #[test]
    fn welch_on_a_few_runs_uses_students_t() {
        // t = 3 / sqrt(1/3 + 1/3) = 3.674 on 4 degrees of freedom: p = 0.0213 (scipy's ttest_ind,
        // equal_var=False).
        let p = welch(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap();
        assert!((p - 0.0213).abs() < 5e-4, "{p}");
        assert_eq!(welch(&[1.0], &[2.0, 3.0]), None);
    }
}
