//! Files for TensorBoard's Embedding Projector (and the standalone projector.tensorflow.org): one
//! `tensors_L.tsv` per layer (a point per row, its values tab-separated), one `metadata.tsv` of
//! what each point is (the columns the projector colours and searches by), and a
//! `projector_config.pbtxt` naming them, so `tensorboard --logdir OUT` opens them as they are.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::ReportError;

/// One point's description, as the projector's metadata columns show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointLabel {
    pub task: String,
    /// `seen` or `unseen`.
    pub split: String,
    pub instruction: String,
    pub input: String,
}

/// One layer's hidden states: `n` points of `d` values, row-major.
#[derive(Debug, Clone, Copy)]
pub struct LayerPoints<'a> {
    pub layer: usize,
    pub d: usize,
    pub values: &'a [f32],
}

/// Writes the projector's files for `layers` into `out` (which exists); `step` names the
/// checkpoint in the tensors' names. Returns the files written.
pub fn write_projector(
    out: &Path,
    step: usize,
    labels: &[PointLabel],
    layers: &[LayerPoints<'_>],
) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    let metadata = out.join("metadata.tsv");
    let mut meta = String::from("task\tsplit\tinstruction\tinput\n");
    for l in labels {
        let _ =
            writeln!(meta, "{}\t{}\t{}\t{}", field(&l.task), field(&l.split), field(&l.instruction), field(&l.input));
    }
    write(&metadata, &meta)?;
    written.push(metadata);
    let mut config = String::new();
    for layer in layers {
        let n = layer.values.len().checked_div(layer.d).unwrap_or(0);
        if n != labels.len() {
            return Err(ReportError::Inconsistent {
                file: out.to_path_buf(),
                reason: format!("layer {}: {n} hidden states for {} points", layer.layer, labels.len()),
            });
        }
        let name = format!("tensors_{}.tsv", layer.layer);
        let path = out.join(&name);
        write(&path, &tensor_tsv(layer))?;
        written.push(path);
        let _ = write!(
            config,
            "embeddings {{\n  tensor_name: \"layer {} at step {step}\"\n  tensor_path: \"{name}\"\n  metadata_path: \"metadata.tsv\"\n}}\n",
            layer.layer
        );
    }
    let config_path = out.join("projector_config.pbtxt");
    write(&config_path, &config)?;
    written.push(config_path);
    Ok(written)
}

fn tensor_tsv(layer: &LayerPoints<'_>) -> String {
    let mut s = String::with_capacity(layer.values.len() * 12);
    for row in layer.values.chunks(layer.d.max(1)) {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                s.push('\t');
            }
            // Shortest text that reads back as the same f32.
            let _ = write!(s, "{v}");
        }
        s.push('\n');
    }
    s
}

/// A metadata field on one line with no tab: the format has no quoting.
fn field(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

fn write(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|e| ReportError::write(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_back_exactly_and_fields_stay_on_their_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let labels = vec![
            PointLabel { task: "a\tb".into(), split: "seen".into(), instruction: "x\ny".into(), input: "A".into() },
            PointLabel { task: "c".into(), split: "unseen".into(), instruction: "z".into(), input: "B".into() },
        ];
        let values = [0.1f32, -2.5e-8, 3.0, f32::MAX];
        let files = write_projector(dir.path(), 7, &labels, &[LayerPoints { layer: 2, d: 2, values: &values }])
            .expect("written");
        assert_eq!(files.len(), 3);
        let meta = std::fs::read_to_string(dir.path().join("metadata.tsv")).expect("metadata");
        assert_eq!(meta, "task\tsplit\tinstruction\tinput\na b\tseen\tx y\tA\nc\tunseen\tz\tB\n");
        let t = std::fs::read_to_string(dir.path().join("tensors_2.tsv")).expect("tensors");
        let back: Vec<f32> = t.split(['\t', '\n']).filter(|s| !s.is_empty()).map(|s| s.parse().expect("f32")).collect();
        assert_eq!(back, values);
        let cfg = std::fs::read_to_string(dir.path().join("projector_config.pbtxt")).expect("config");
        assert!(cfg.contains("tensor_name: \"layer 2 at step 7\"") && cfg.contains("tensor_path: \"tensors_2.tsv\""));
        let short = write_projector(dir.path(), 7, &labels[..1], &[LayerPoints { layer: 2, d: 2, values: &values }]);
        assert!(matches!(short, Err(ReportError::Inconsistent { .. })));
    }
}
