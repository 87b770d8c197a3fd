//! Exporting a checkpoint for Python (`.npy` arrays, CSV and JSON) or for TensorBoard's
//! Embedding Projector.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::projector::{write_projector, LayerPoints, PointLabel};
use super::{npy, ReportError};
use crate::analysis::{tsne, TsneConfig};
use crate::model::SelectedDevice;
use crate::session::format::{HIDDEN, WEIGHTS};
use crate::session::Session;
use crate::train::inference::LoadedModel;
use crate::train::{stored_hidden, SavedTensors};

#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Index into the session's snapshots.
    pub checkpoint: usize,
    /// One layer, or every layer when `None`.
    pub layer: Option<usize>,
    pub out: PathBuf,
    pub format: ExportFormat,
    /// Which 2-D layout goes with the hidden states.
    pub projection: Projection,
    /// Seed of the t-SNE layout; the session's own seed when `None`.
    pub tsne_seed: Option<u64>,
}

/// The 2-D layout an `.npy` export carries beside the hidden states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Projection {
    /// `proj_L.npy`: the two principal components the session stored.
    #[default]
    Pca,
    /// `tsne_L.npy` as well: t-SNE of the recomputed hidden states (openTSNE's defaults).
    Tsne,
}

impl std::str::FromStr for Projection {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pca" => Ok(Projection::Pca),
            "tsne" => Ok(Projection::Tsne),
            other => Err(format!("--projection {other:?}: expected pca or tsne")),
        }
    }
}

/// What the export is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// `.npy`, CSV and JSON, for Python.
    #[default]
    Npy,
    /// The Embedding Projector's TSV files and `projector_config.pbtxt`.
    TensorBoard,
}

impl std::str::FromStr for ExportFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "npy" => Ok(ExportFormat::Npy),
            "tensorboard" => Ok(ExportFormat::TensorBoard),
            other => Err(format!("--format {other:?}: expected npy or tensorboard")),
        }
    }
}

/// Writes the export; returns the files written. Hidden states are recomputed from the
/// checkpoint's stored weights (exactly what training saw), which keeps sessions small; an
/// analysed session's checkpoints hold them.
pub fn export(session: &Session, opts: &ExportOptions, device: &SelectedDevice) -> Result<Vec<PathBuf>, ReportError> {
    let snap = session.snapshots.get(opts.checkpoint).ok_or_else(|| ReportError::NotInSession {
        session: session.dir.clone(),
        what: format!("no checkpoint #{}", opts.checkpoint),
    })?;
    let layers = session.manifest.model.layers + 1;
    let chosen: Vec<usize> = match opts.layer {
        Some(l) if l >= layers => {
            return Err(ReportError::NotInSession {
                session: session.dir.clone(),
                what: format!("no layer {l}: the model has layers 0..={}", layers - 1),
            })
        }
        Some(l) => vec![l],
        None => (0..layers).collect(),
    };
    std::fs::create_dir_all(&opts.out).map_err(|e| ReportError::write(&opts.out, e))?;
    let (file, hidden) = checkpoint_hidden(session, snap.step, device)?;
    let n = session.points.len();
    let d = session.manifest.model.d_model;
    let out = &opts.out;
    if opts.format == ExportFormat::TensorBoard {
        let labels: Vec<PointLabel> = session
            .points
            .iter()
            .map(|p| PointLabel {
                task: session.manifest.task_names.get(p.task).cloned().unwrap_or_else(|| p.task.to_string()),
                split: if p.seen { "seen" } else { "unseen" }.to_string(),
                instruction: p.instruction.clone(),
                input: p.input.clone(),
            })
            .collect();
        let layers: Vec<LayerPoints<'_>> =
            chosen.iter().map(|&l| LayerPoints { layer: l, d, values: &hidden[l] }).collect();
        return write_projector(out, snap.step, &labels, &layers);
    }
    let mut written = Vec::new();
    let mut put = |name: String| -> PathBuf {
        let p = out.join(name);
        written.push(p.clone());
        p
    };
    for &l in &chosen {
        npy::write(&put(format!("hidden_{l}.npy")), &[n, d], &hidden[l])?;
        if opts.projection == Projection::Tsne {
            let seed = opts.tsne_seed.unwrap_or(session.manifest.seed);
            // One thread: an export is a record, so the same seed must give the same file.
            let cfg = TsneConfig { seed, one_thread: true, ..TsneConfig::default() };
            let layout = tsne(&hidden[l], d, &cfg, |_, _| {}).map_err(|e| ReportError::Inconsistent {
                file: file.clone(),
                reason: format!("t-SNE of layer {l}: {e}"),
            })?;
            let flat: Vec<f32> = layout.iter().flat_map(|p| [p[0], p[1]]).collect();
            npy::write(&put(format!("tsne_{l}.npy")), &[n, 2], &flat)?;
        }
        let la = &snap.analysis.layers[l];
        if la.error.is_none() {
            let proj: Vec<f32> = la.seen_proj.iter().chain(&la.unseen_proj).flat_map(|p| [p[0], p[1]]).collect();
            npy::write(&put(format!("proj_{l}.npy")), &[n, 2], &proj)?;
            let clusters: Vec<i64> =
                la.seen_assignments.iter().chain(&la.unseen_assignments).map(|&c| c as i64).collect();
            npy::write(&put(format!("clusters_{l}.npy")), &[n], &clusters)?;
        }
    }
    let labels: Vec<i64> = session.points.iter().map(|p| p.task as i64).collect();
    npy::write(&put("labels.npy".into()), &[n], &labels)?;
    let mut csv = String::from("index,task,task_name,set,instruction,input,output\n");
    for (i, p) in session.points.iter().enumerate() {
        let name = session.manifest.task_names.get(p.task).map(String::as_str).unwrap_or("");
        let set = if p.seen { "seen" } else { "unseen" };
        let _ = writeln!(
            csv,
            "{i},{},{},{set},{},{},{}",
            p.task,
            quote(name),
            quote(&p.instruction),
            quote(&p.input),
            quote(&p.output)
        );
    }
    write_text(&put("points.csv".into()), &csv)?;
    let metrics = serde_json::json!({
        "step": snap.step,
        "loss": snap.loss,
        "seen_accuracy": snap.seen_accuracy,
        "unseen_accuracy": snap.unseen_accuracy,
        "task_names": session.manifest.task_names,
        "layers": snap.analysis.layers.iter().map(super::summary::layer_json).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&metrics)?;
    write_text(&put("metrics.json".into()), &text)?;
    let header =
        "step,layer,seen_ari,seen_ami,seen_f1,unseen_ari,unseen_ami,unseen_f1,unseen_centroid_accuracy,evr1,evr2\n";
    let row = |csv: &mut String, step: usize, l: &crate::analysis::LayerAnalysis| {
        let (s, u) = (l.scores.seen, l.scores.unseen);
        let e = l.pca.explained_variance_ratio;
        let _ = writeln!(
            csv,
            "{step},{},{},{},{},{},{},{},{},{},{}",
            l.layer, s.ari, s.ami, s.f1, u.ari, u.ami, u.f1, l.scores.unseen_centroid_accuracy, e[0], e[1]
        );
    };
    let mut m = String::from(header);
    snap.analysis.layers.iter().for_each(|l| row(&mut m, snap.step, l));
    write_text(&put("metrics.csv".into()), &m)?;
    // Every checkpoint's scores, for curves.
    let mut all = String::from(header);
    for s in &session.snapshots {
        s.analysis.layers.iter().for_each(|l| row(&mut all, s.step, l));
    }
    write_text(&put("scores.csv".into()), &all)?;
    Ok(written)
}

/// Every layer's hidden states of the analysis points at checkpoint `step`, and the file they
/// come from: stored in an analysed session's checkpoint, recomputed from a trained one's weights.
fn checkpoint_hidden(
    session: &Session,
    step: usize,
    device: &SelectedDevice,
) -> Result<(PathBuf, Vec<Vec<f32>>), ReportError> {
    let n = session.points.len();
    let d = session.manifest.model.d_model;
    if session.manifest.analyzed.is_some() {
        let hidden = stored_hidden::read(&session.dir, &session.manifest, step)?;
        let file = session.layout().checkpoint(step).join(HIDDEN);
        if hidden.iter().any(|h| h.len() != n * d) {
            return Err(ReportError::Inconsistent {
                file,
                reason: format!("does not hold {n} points of width {d}, as points.json and the manifest say"),
            });
        }
        return Ok((file, hidden));
    }
    let exp = session.experiment()?;
    let set = exp.analysis_set();
    let examples: Vec<_> = set.seen.iter().chain(&set.unseen).cloned().collect();
    let consistent = examples.len() == n
        && examples
            .iter()
            .zip(&session.points)
            .all(|(e, p)| e.instruction.join(" ") == p.instruction && e.task == p.task);
    if !consistent {
        return Err(ReportError::Inconsistent {
            file: session.layout().points(),
            reason: "does not match the analysis set this clusterscope rebuilds from the stored experiment".into(),
        });
    }
    let weights = SavedTensors::read(&session.dir, &session.manifest, step, WEIGHTS, &device.device)?;
    let model = LoadedModel::load(&session.manifest.model, &weights, &device.device)?;
    let eval = model.evaluate(&exp, &examples, true).map_err(|source| ReportError::Model {
        file: weights.file.clone(),
        what: "run the model",
        source,
    })?;
    Ok((weights.file, eval.hidden))
}

fn write_text(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(|e| ReportError::write(path, e))
}

/// CSV field quoting (RFC 4180) for fields that need it.
fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
