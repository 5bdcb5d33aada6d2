//! The sweep's configurations: the grid of every `--param name=v1,v2,...` combination (or the
//! explicit list of `--param-file`), each with its folder name, and the placeholders `{name}` and
//! `{port}` filled into the server command, the endpoint and the run's flags.
//!
//! Everything is checked before the first server starts: a placeholder no parameter fills, a
//! parameter used nowhere, a key on the command line. A sweep that fails after an hour for a typo
//! in its last configuration is an hour lost.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::Path;

/// One configuration: its parameters' values, in the order the parameters were given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Configuration {
    /// `seqs=16 ctx=4096`: how the console and the frontier name it.
    pub name: String,
    /// Its folder in the sweep's folder: `01_seqs=16_ctx=4096`.
    pub dir: String,
    pub params: Vec<(String, String)>,
}

impl Configuration {
    /// The values its placeholders take: its parameters, and `port` when the sweep picked one.
    pub fn values(&self, port: Option<u16>) -> Vec<(String, String)> {
        let mut v = self.params.clone();
        if let Some(p) = port {
            v.push(("port".into(), p.to_string()));
        }
        v
    }
}

/// The configurations of `--param` flags: every combination, the first parameter varying slowest.
pub fn grid(params: &[String]) -> Result<Vec<Vec<(String, String)>>> {
    let mut axes: Vec<(String, Vec<String>)> = Vec::new();
    for p in params {
        let Some((name, values)) = p.split_once('=') else {
            bail!("--param {p}: give name=v1,v2,... (e.g. --param seqs=16,64,256)");
        };
        let name = name.trim();
        check_name(name, "--param")?;
        if axes.iter().any(|(n, _)| n == name) {
            bail!("--param {name} is given twice; list all its values in one flag: {name}=a,b,c");
        }
        let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(String::is_empty) {
            bail!("--param {p}: a value is empty");
        }
        axes.push((name.to_string(), values));
    }
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (name, values) in &axes {
        out = out
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((name.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    Ok(out)
}

/// The configurations of a `--param-file`: a JSON array of objects of strings, numbers or booleans.
pub fn from_file(path: &Path) -> Result<Vec<Vec<(String, String)>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read --param-file {}", path.display()))?;
    let how = "give a JSON array of objects, e.g. [{\"tp\": 1, \"seqs\": 64}, {\"tp\": 2, \"seqs\": 128}]";
    let list: Vec<serde_json::Map<String, serde_json::Value>> = serde_json::from_str(&text)
        .with_context(|| format!("--param-file {}: {how}", path.display()))?;
    if list.is_empty() {
        bail!(
            "--param-file {} lists no configuration; {how}",
            path.display()
        );
    }
    let mut out = Vec::new();
    for (i, obj) in list.into_iter().enumerate() {
        let mut c = Vec::new();
        for (k, v) in obj {
            check_name(&k, "--param-file")?;
            let v = match v {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                other => bail!(
                    "--param-file {}: configuration {} gives {k} the value {other}; give a string, number or boolean",
                    path.display(),
                    i + 1
                ),
            };
            c.push((k, v));
        }
        out.push(c);
    }
    Ok(out)
}

fn check_name(name: &str, flag: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ok {
        bail!("{flag}: the parameter name {name:?} must be letters, digits and _ (e.g. seqs, max_tokens)");
    }
    if name == "port" {
        bail!("{flag}: `port` is the sweep's own placeholder (a free port per configuration); name the parameter otherwise");
    }
    Ok(())
}

/// Names and folders for the configurations, numbered in run order.
pub fn name(configs: Vec<Vec<(String, String)>>) -> Vec<Configuration> {
    let width = configs.len().to_string().len().max(2);
    configs
        .into_iter()
        .enumerate()
        .map(|(i, params)| {
            let words: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let safe: String = words
                .join("_")
                .chars()
                .map(|c| match c {
                    'a'..='z' | 'A'..='Z' | '0'..='9' | '=' | '_' | '-' | '.' => c,
                    _ => '-',
                })
                .take(80)
                .collect();
            let dir = match safe.is_empty() {
                true => format!("{:0width$}", i + 1),
                false => format!("{:0width$}_{safe}", i + 1),
            };
            Configuration {
                name: if words.is_empty() {
                    "default".into()
                } else {
                    words.join(" ")
                },
                dir,
                params,
            }
        })
        .collect()
}

/// The `{name}` placeholders in `text` (identifiers in braces; other braces, as in JSON, are
/// left alone).
pub fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find('{') {
        rest = &rest[i + 1..];
        if let Some(j) = rest.find('}') {
            let word = &rest[..j];
            if !word.is_empty()
                && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !word.starts_with(|c: char| c.is_ascii_digit())
            {
                out.insert(word.to_string());
            }
        }
    }
    out
}

/// `text` with each `{name}` of `values` replaced by its value.
pub fn fill(text: &str, values: &[(String, String)]) -> String {
    values.iter().fold(text.to_string(), |t, (k, v)| {
        t.replace(&format!("{{{k}}}"), v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_grid_holds_every_combination_the_first_parameter_slowest() {
        let g = grid(&s(&["slots=2,8", "ctx=1024,4096"])).unwrap();
        let names: Vec<String> = name(g).into_iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            [
                "slots=2 ctx=1024",
                "slots=2 ctx=4096",
                "slots=8 ctx=1024",
                "slots=8 ctx=4096"
            ]
        );
    }

    #[test]
    fn bad_parameters_are_refused_with_the_form_to_use() {
        for (p, says) in [
            ("seqs", "name=v1,v2"),
            ("seqs=1,,2", "empty"),
            ("port=1", "own placeholder"),
            ("max-tokens=1", "letters, digits and _"),
        ] {
            let e = grid(&s(&[p])).unwrap_err().to_string();
            assert!(e.contains(says), "{p}: {e}");
        }
        let e = grid(&s(&["a=1", "a=2"])).unwrap_err().to_string();
        assert!(e.contains("given twice"), "{e}");
    }

    #[test]
    fn placeholders_are_identifiers_in_braces_and_json_is_left_alone() {
        let t = r#"--port {port} -np {slots} --extra-body {"top_p":0.9} {1}"#;
        let found: Vec<String> = placeholders(t).into_iter().collect();
        assert_eq!(found, ["port", "slots"]);
        let filled = fill(
            t,
            &[("port".into(), "9000".into()), ("slots".into(), "4".into())],
        );
        assert_eq!(
            filled,
            r#"--port 9000 -np 4 --extra-body {"top_p":0.9} {1}"#
        );
    }

    #[test]
    fn a_param_file_lists_configurations_and_its_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("p.json");
        std::fs::write(&f, r#"[{"tp": 1, "seqs": 64}, {"tp": 2, "seqs": "128"}]"#).unwrap();
        let c = name(from_file(&f).unwrap());
        assert_eq!(
            c[1].params,
            [("seqs".into(), "128".into()), ("tp".into(), "2".into())]
        );
        assert_eq!(c[1].dir, "02_seqs=128_tp=2");
        std::fs::write(&f, r#"{"tp": 1}"#).unwrap();
        let e = format!("{:#}", from_file(&f).unwrap_err());
        assert!(e.contains("p.json") && e.contains("JSON array"), "{e}");
    }
}
