//! The container recipe and the Kubernetes manifests agree with the project: the Dockerfile copies
//! what the build needs, and the Indexed Job's shard count is its completions and parallelism.
//! (Their schema is validated offline by scripts/validate-manifests.sh, which .ci/run calls.)

use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn the_dockerfile_copies_what_the_build_reads() {
    let docker = read("Dockerfile");
    for line in docker
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        for part in line
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .split_last()
            .unwrap()
            .1
        {
            assert!(
                Path::new(env!("CARGO_MANIFEST_DIR")).join(part).exists(),
                "{line}: {part} is missing"
            );
        }
    }
    assert!(docker.contains("cargo build --release --locked --bin redline"));
    assert!(docker.contains("ca-certificates"));
}

#[test]
fn the_indexed_job_runs_as_many_pods_as_shards() {
    let job = read("deploy/kubernetes/shards-job.yaml");
    let field = |name: &str| -> u32 {
        job.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("{name}"))
            .parse()
            .unwrap()
    };
    // `--shards N` in the args: the value is on the next line.
    let shards: u32 = job
        .split("\"--shards\"")
        .nth(1)
        .and_then(|s| s.split('"').nth(1))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(field("completions"), shards);
    assert_eq!(field("parallelism"), shards);
    assert!(job.contains("completionMode: Indexed"));
    assert!(job.contains("secretKeyRef"), "the key comes from a Secret");
    // Every shard must share the seed and the start: they are fixed in the manifest.
    assert!(job.contains("\"--seed\"") && job.contains("\"--start-after\""));
}
