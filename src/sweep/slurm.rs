//! A sweep as a Slurm job array: one array task per point still to run, each running
//! `clusterscope sweep run-point DIR --index $SLURM_ARRAY_TASK_ID` on whichever node it lands.
//! Points write only their own sessions (atomically, under their own lock), so tasks on
//! different nodes never corrupt each other, and a point claimed twice is refused by its lock.
//! What Slurm itself says of each task (`squeue`, `sacct`) is read here too, where present.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::SweepError;
use crate::session::sweep::SweepDir;

/// What `--slurm` asks of the job.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    pub partition: Option<String>,
    pub time: Option<String>,
    pub gpus: Option<usize>,
    /// Passed to sbatch as they are.
    pub sbatch_args: Vec<String>,
    pub threads: usize,
    pub device: String,
}

/// The job script for the points `indices` of the sweep in `dir`, run with `exe`.
pub fn script(dir: &SweepDir, indices: &[usize], exe: &Path, opts: &SlurmOptions) -> String {
    let root = dir.root().display();
    let mut s = String::from("#!/bin/bash\n");
    s.push_str("#SBATCH --job-name=clusterscope-sweep\n");
    s.push_str(&format!("#SBATCH --array={}\n", ranges(indices)));
    s.push_str(&format!("#SBATCH --output={root}/points/slurm-%A_%a.out\n"));
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", opts.threads.max(1)));
    if let Some(p) = &opts.partition {
        s.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &opts.time {
        s.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if let Some(g) = opts.gpus {
        s.push_str(&format!("#SBATCH --gpus={g}\n"));
    }
    for a in &opts.sbatch_args {
        s.push_str(&format!("#SBATCH {a}\n"));
    }
    s.push_str(&format!(
        "exec {} --threads \"${{SLURM_CPUS_PER_TASK:-1}}\" sweep run-point {} --index \"$SLURM_ARRAY_TASK_ID\" --device {}\n",
        quote(&exe.display().to_string()),
        quote(&root.to_string()),
        quote(&opts.device)
    ));
    s
}

/// Submits the script at `path`; returns the job id.
pub fn submit(path: &Path) -> Result<String, SweepError> {
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(path)
        .output()
        .map_err(|e| SweepError::Slurm(format!("cannot run sbatch ({e}); is Slurm installed here?")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return Err(SweepError::Slurm(format!("sbatch refused the job: {}", why.trim())));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // `--parsable` prints `ID` or `ID;CLUSTER`.
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() {
        return Err(SweepError::Slurm("sbatch printed no job id".into()));
    }
    Ok(id)
}

/// How long one `squeue` or `sacct` may take: an unreachable controller makes them retry for
/// a minute, and a summary should not wait that long for an extra column.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Slurm's state (PENDING, RUNNING, COMPLETED, FAILED, ...) of each array task of `jobs` (oldest
/// first), by point index; a task of a later job wins, as it is the resubmission. `sacct` knows
/// finished tasks where accounting is on; `squeue` knows the current ones and wins over it.
/// Where neither tool runs or knows a job, its tasks are simply absent.
pub fn task_states(jobs: &[String]) -> BTreeMap<usize, String> {
    let mut states = BTreeMap::new();
    for job in jobs.iter().filter(|j| !j.is_empty() && j.chars().all(|c| c.is_ascii_digit())) {
        let sacct = ["-n", "-X", "-P", "-j", job, "-o", "JobID,State"];
        let squeue = ["-h", "-r", "-t", "all", "-j", job, "-o", "%i|%T"];
        for (tool, args) in [("sacct", &sacct[..]), ("squeue", &squeue[..])] {
            if let Some(text) = query(tool, args) {
                states.extend(parse_states(job, &text));
            }
        }
    }
    states
}

/// `tool args`'s standard output, if it ran, succeeded and finished in time.
fn query(tool: &str, args: &[&str]) -> Option<String> {
    let mut child =
        Command::new(tool).args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().ok()?;
    // Read on a thread so a chatty tool cannot fill the pipe and stall while we wait for it.
    let mut out = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        out.read_to_string(&mut text).map(|_| text)
    });
    let deadline = Instant::now() + QUERY_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let text = reader.join().ok()?.ok()?;
    status.filter(|s| s.success()).map(|_| text)
}

/// Lines `JOB_TASK|STATE` (a pending array may be one line, `JOB_[0-3,5%2]`), for `job` only;
/// `CANCELLED by 1000` keeps its first word.
fn parse_states(job: &str, text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((id, state)) = line.trim().split_once('|') else { continue };
        let Some(state) = state.split_whitespace().next() else { continue };
        let Some(tasks) = id.strip_prefix(job).and_then(|t| t.strip_prefix('_')) else { continue };
        let tasks = tasks.trim_start_matches('[').trim_end_matches(']');
        let tasks = tasks.split('%').next().unwrap_or("");
        for part in tasks.split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            if let (Ok(a), Ok(b)) = (a.parse::<usize>(), b.parse::<usize>()) {
                // A range from one line of output; bounded so a garbled one cannot run away.
                out.extend((a..=b.min(a.saturating_add(100_000))).map(|i| (i, state.to_string())));
            }
        }
    }
    out
}

/// `0-3,7,9-10`: Slurm's array syntax for the indices.
fn ranges(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    parts.join(",")
}

/// A word for the shell, quoted when it needs to be.
fn quote(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:+=".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_runs_one_array_task_per_point() {
        assert_eq!(ranges(&[0, 1, 2, 3, 7, 9, 10]), "0-3,7,9-10");
        assert_eq!(ranges(&[4]), "4");
        let dir = SweepDir::new(Path::new("/shared/my sweep"));
        let opts = SlurmOptions {
            partition: Some("gpu".into()),
            time: Some("01:00:00".into()),
            gpus: Some(1),
            sbatch_args: vec!["--mem=8G".into()],
            threads: 4,
            device: "cuda".into(),
        };
        let s = script(&dir, &[0, 1, 2], Path::new("/opt/clusterscope"), &opts);
        for want in [
            "#SBATCH --array=0-2\n",
            "#SBATCH --partition=gpu\n",
            "#SBATCH --time=01:00:00\n",
            "#SBATCH --gpus=1\n",
            "#SBATCH --mem=8G\n",
            "#SBATCH --cpus-per-task=4\n",
            "exec /opt/clusterscope --threads \"${SLURM_CPUS_PER_TASK:-1}\" sweep run-point '/shared/my sweep' --index \"$SLURM_ARRAY_TASK_ID\" --device cuda\n",
        ] {
            assert!(s.contains(want), "{want:?} in\n{s}");
        }
    }

    #[test]
    fn task_states_are_read_per_array_task() {
        let text =
            "12_0|COMPLETED\n12_1|FAILED\n12_[2-3,5%2]|PENDING\n120_4|RUNNING\n12_6|CANCELLED by 0\n12.batch|X\n";
        let got = parse_states("12", text);
        let want: Vec<(usize, String)> =
            [(0, "COMPLETED"), (1, "FAILED"), (2, "PENDING"), (3, "PENDING"), (5, "PENDING"), (6, "CANCELLED")]
                .iter()
                .map(|(i, s)| (*i, s.to_string()))
                .collect();
        assert_eq!(got, want);
        // No such tool: nothing, silently.
        assert_eq!(query("clusterscope-no-such-tool", &[]), None);
    }
}
