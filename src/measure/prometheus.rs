//! A parser for the Prometheus text exposition format (what `/metrics` of vLLM, SGLang, TGI and
//! llama.cpp's server serve): `name{label="value",...} value [timestamp]` lines, with `# HELP` and
//! `# TYPE` comments. Counters, gauges, histograms (`_bucket{le=...}`, `_sum`, `_count`) and
//! summaries all come out as plain series; label values are unescaped (`\\`, `\"`, `\n`), and
//! `NaN`, `+Inf` and `-Inf` are read. A malformed line is skipped and counted, never fatal: a
//! scrape of a page that is mostly right keeps the rest. [`Scrape`] is one timed read of a page, as
//! `scrape.rs` takes them and `analyze/server.rs` reads them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One series' value in a scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In the page's order.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// The series as the page writes it: `name{a="x",b="y"}` (or `name`), labels in their order.
    pub fn key(&self) -> String {
        if self.labels.is_empty() {
            return self.name.clone();
        }
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
            .collect();
        format!("{}{{{}}}", self.name, labels.join(","))
    }

    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A parsed page: its samples, and how many lines could not be read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    pub samples: Vec<Sample>,
    pub bad_lines: usize,
}

/// Parses a page of the text format.
pub fn parse(text: &str) -> Page {
    let mut page = Page::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match sample(line) {
            Some(s) => page.samples.push(s),
            None => page.bad_lines += 1,
        }
    }
    page
}

fn sample(line: &str) -> Option<Sample> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_:".contains(c))
    {
        return None;
    }
    let mut rest = line[name_end..].trim_start();
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = label_set(inner)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.split_whitespace().next()?;
    Some(Sample {
        name: name.to_string(),
        labels,
        value: number(value)?,
    })
}

fn number(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

/// `a="x",b="y"}` and what follows the closing brace.
fn label_set(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start().trim_start_matches(',').trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Some((labels, after));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_string();
        let mut chars = s[eq + 1..].trim_start().char_indices();
        let (_, '"') = chars.next()? else {
            return None;
        };
        let start = s.len() - s[eq + 1..].trim_start().len();
        let mut value = String::new();
        let mut escaped = false;
        let mut end = None;
        for (i, c) in chars {
            match (escaped, c) {
                (true, 'n') => value.push('\n'),
                (true, c) => value.push(c),
                (false, '\\') => {
                    escaped = true;
                    continue;
                }
                (false, '"') => {
                    end = Some(start + i + 1);
                    break;
                }
                (false, c) => value.push(c),
            }
            escaped = false;
        }
        labels.push((key, value));
        s = &s[end?..];
    }
}

/// One scrape of the endpoint's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scrape {
    pub level: usize,
    /// Seconds since the level's start.
    pub t_s: f64,
    /// Every finite series of the page, by its key (`name{labels}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, f64>,
    /// Why the scrape gave nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Scrape {
    /// The sum of every series of `name` (labels and all).
    pub fn sum(&self, name: &str) -> Option<f64> {
        self.series(name).map(|(_, v)| v).reduce(|a, b| a + b)
    }

    /// The highest value among the series of `name` (for a ratio such as KV-cache usage, where
    /// each engine of a data-parallel server reports its own).
    pub fn max(&self, name: &str) -> Option<f64> {
        self.series(name).map(|(_, v)| v).reduce(f64::max)
    }

    /// The series of metric `name`: those whose key is `name` or `name{...}`.
    pub fn series<'a>(&'a self, name: &'a str) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        self.values
            .range(name.to_string()..)
            .take_while(move |(k, _)| k.starts_with(name))
            .filter(move |(k, _)| k.len() == name.len() || k.as_bytes()[name.len()] == b'{')
            .map(|(k, v)| (k.as_str(), *v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VLLM: &str = r#"# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 3.0
vllm:num_requests_waiting{engine="0",model_name="m"} 120
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="m"} 4.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="m"} 9.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="m"} 2.5
llamacpp:prompt_tokens_total 1234 1700000000000
odd{path="a \"quoted\" \\ value, with {braces}\nand a line"} NaN
"#;

    #[test]
    fn reads_gauges_histograms_escapes_and_timestamps() {
        let p = parse(VLLM);
        assert_eq!(p.bad_lines, 0);
        assert_eq!(p.samples.len(), 7);
        assert_eq!(p.samples[0].name, "vllm:num_requests_running");
        assert_eq!(p.samples[0].value, 3.0);
        assert_eq!(p.samples[0].label("model_name"), Some("m"));
        assert_eq!(p.samples[3].label("le"), Some("+Inf"));
        assert_eq!(p.samples[5].value, 1234.0, "the timestamp is not the value");
        assert_eq!(
            p.samples[6].label("path"),
            Some("a \"quoted\" \\ value, with {braces}\nand a line")
        );
        assert!(p.samples[6].value.is_nan());
        assert_eq!(
            p.samples[0].key(),
            "vllm:num_requests_running{engine=\"0\",model_name=\"m\"}"
        );
        // A key reads back as the same series.
        let again = parse(&format!("{} 1", p.samples[6].key()));
        assert_eq!(again.samples[0].labels, p.samples[6].labels);
    }

    #[test]
    fn malformed_lines_are_counted_and_skipped() {
        let p =
            parse("good 1\nbad{a=\"x\" 2\n{nameless} 3\nno_value\nspaced {a=\"1\"} +Inf\nx 1e3\n");
        assert_eq!(p.bad_lines, 3);
        let names: Vec<&str> = p.samples.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["good", "spaced", "x"]);
        assert_eq!(p.samples[1].value, f64::INFINITY);
        assert_eq!(p.samples[2].value, 1000.0);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,300}") {
            let _ = parse(&text);
        }
    }

    #[test]
    fn series_of_a_name_are_summed_across_labels_only_for_that_name() {
        let s = Scrape {
            level: 0,
            t_s: 0.0,
            values: [
                ("vllm:num_requests_running{engine=\"0\"}", 3.0),
                ("vllm:num_requests_running{engine=\"1\"}", 4.0),
                ("vllm:num_requests_running_extra", 100.0),
                ("vllm:num_requests_waiting", 2.0),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
            error: None,
        };
        assert_eq!(s.sum("vllm:num_requests_running"), Some(7.0));
        assert_eq!(s.sum("vllm:num_requests_waiting"), Some(2.0));
        assert_eq!(s.sum("vllm:absent"), None);
    }
}
