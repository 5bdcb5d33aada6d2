//! A verdict's [`Reason`] as text: the `verdict_reason` string of the results JSON, part of the
//! output contract since the first version, so its wording is fixed here once. The console
//! (`output/summary.rs`) renders the same parts: [`Reason::endpoint_text`] without the client's
//! part, and the client limit as a mark of its own.

use crate::analyze::verdict::{ClientLimit, Reason};
use serde::{Serialize, Serializer};
use std::fmt;

impl Reason {
    /// What the endpoint did: success, queueing and missed objectives.
    pub fn endpoint_text(&self) -> String {
        let mut s = match self.repetitions {
            Some((_, n, k)) => format!("worst of {n} repetitions (repetition {k}): "),
            None => String::new(),
        };
        if let Some((from, to)) = self.window {
            s += &format!("steady window {from:.1}-{to:.1} s: ");
        }
        s += &match self.sent_success_pct {
            Some(sent) => format!(
                "{:.1}% success ({sent:.1}% of the requests sent)",
                self.success_pct
            ),
            None => format!("{:.1}% success", self.success_pct),
        };
        if let Some(q) = &self.queueing {
            let mut parts = Vec::new();
            if let Some((first, last)) = q.ttft_rise_s {
                let what = if self.whole_reply { "latency" } else { "TTFT" };
                parts.push(format!(
                    "{what} rose from {} to {} during the level",
                    seconds(first),
                    seconds(last)
                ));
            }
            if let Some((served, sent)) = q.served_of_sent_qps {
                parts.push(format!(
                    "{served:.1} of the {sent:.1} req/s sent were served"
                ));
            }
            s.push_str(&format!("; queueing: {}", parts.join("; ")));
        }
        for m in &self.misses {
            let o = &m.objective;
            let p = o.percentile.unwrap_or(50.0);
            if o.metric.seconds() {
                s.push_str(&format!(
                    "; latency objective missed: {} p{p} {:.3} s > {:.3} s",
                    o.metric.name().to_ascii_uppercase(),
                    m.got,
                    o.bound
                ));
            } else {
                s.push_str(&format!(
                    "; objective missed: tokens/s p{p} {:.1} < {:.1}",
                    m.got, o.bound
                ));
            }
        }
        if let Some((n, max)) = self.slow_accept {
            s.push_str(&format!(
                "; the endpoint was slow to accept connections: {n} request{} waited a second or more (up to {})",
                if n == 1 { "" } else { "s" },
                seconds(max)
            ));
        }
        if let Some(server) = &self.server {
            s.push_str(&format!("; server: {server}"));
        }
        if let Some((at, why)) = &self.early_stop {
            s.push_str(&format!("; stopped early at {at:.1} s: {why}"));
        }
        if let Some((passed, n, _)) = self.repetitions {
            s.push_str(&format!("; {passed} of {n} repetitions passed"));
        }
        s
    }
}

impl fmt::Display for ClientLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientLimit::SlowSend { delivered_ratio } => write!(
                f,
                "sent at {:.1}% of the rate its schedule held",
                delivered_ratio * 100.0
            ),
            ClientLimit::LateSend { lag_p99_s } => write!(
                f,
                "sends were up to {:.1} ms late (lag p99)",
                lag_p99_s * 1e3
            ),
            ClientLimit::ClientFailures(n) => write!(
                f,
                "{n} client-side failure{}",
                if *n == 1 { "" } else { "s" }
            ),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.endpoint_text())?;
        match (&self.client, self.stands) {
            (Some(c), false) => write!(f, "; client-limited: {c}, so this verdict is not trusted")?,
            (Some(c), true) => write!(
                f,
                "; client-limited: {c}, which does not explain this verdict"
            )?,
            (None, _) => {}
        }
        if self.partial {
            f.write_str("; partial: the level was interrupted, so its verdict is not used")?;
        }
        if let Some(n) = self.too_few {
            write!(
                f,
                "; only {n} request{}, too few to judge (at least {}), so its verdict is not used",
                if n == 1 { "" } else { "s" },
                crate::analyze::verdict::MIN_REQUESTS
            )?;
        }
        if let Some((kept, measured)) = self.rebuilt_from {
            write!(
                f,
                "; rebuilt from {kept} of the {measured} records it measured, so its verdict is not used"
            )?;
        }
        Ok(())
    }
}

impl Serialize for Reason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `0.0312` -> `0.031 s`, `7.7` -> `7.7 s`.
fn seconds(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.3} s")
    } else {
        format!("{v:.1} s")
    }
}

/// A rate as the console shows it: one decimal, and two significant digits under 0.1 so that no
/// level reads as "QPS 0.0".
pub struct Qps(pub f64);

impl fmt::Display for Qps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = self.0;
        if q == 0.0 || !q.is_finite() || q.abs() >= 0.1 {
            write!(f, "{q:.1}")
        } else {
            let digits = (-q.abs().log10()).ceil() as usize + 1;
            write!(f, "{q:.digits$}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Qps;

    #[test]
    fn low_rates_never_read_as_zero() {
        let shown = |q: f64| Qps(q).to_string();
        assert_eq!(shown(20.0), "20.0");
        assert_eq!(shown(0.5), "0.5");
        assert_eq!(shown(0.05), "0.050");
        assert_eq!(shown(0.001), "0.0010");
        assert_eq!(shown(0.0), "0.0");
    }
}

#[cfg(test)]
mod whole_reply_tests {
    use crate::analyze::verdict::{Queueing, Reason};

    #[test]
    fn a_whole_reply_that_queued_says_its_latency_rose_not_its_ttft() {
        let mut r = Reason {
            success_pct: 100.0,
            queueing: Some(Queueing {
                ttft_rise_s: Some((2.0, 7.9)),
                served_of_sent_qps: None,
            }),
            ..Reason::default()
        };
        assert!(
            r.endpoint_text().contains("queueing: TTFT rose from 2.0"),
            "{}",
            r.endpoint_text()
        );
        r.whole_reply = true;
        assert!(
            r.endpoint_text()
                .contains("queueing: latency rose from 2.0"),
            "{}",
            r.endpoint_text()
        );
    }
}
