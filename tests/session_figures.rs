//! Paper figures: rendered from a real trained session, decodable, not blank, and errors for
//! checkpoints that are not there.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed test may panic

mod common;

use clusterscope::record::PointInfo;
use clusterscope::report::figures::{render_figures, SCORES_SIZE};
use clusterscope::report::ReportError;
use clusterscope::session::Session;
use common::*;
use std::path::Path;
use std::sync::OnceLock;

/// Training is the slow part: every test shares one session, read into memory.
fn session() -> &'static Session {
    static SESSION: OnceLock<Session> = OnceLock::new();
    SESSION.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("s");
        make_tiny_session(&out, 120);
        Session::open(&out).unwrap()
    })
}

/// Width, height and whether the image holds more than one colour.
fn decode_png(path: &Path) -> (u32, u32, bool) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = info.color_type.samples() * info.bit_depth as usize / 8;
    let bytes = &buf[..info.buffer_size()];
    let first = &bytes[..px];
    let varied = bytes.chunks(px).any(|p| p != first);
    (info.width, info.height, varied)
}

/// The contents of every `<text>` element.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>')?.1.split("</text>").next())
        .map(|t| t.trim().to_string())
        .collect()
}

/// Set FIGURES_KEEP=/some/dir to keep the rendered files for a look.
fn keep(files: &[std::path::PathBuf], prefix: &str) {
    if let Ok(dir) = std::env::var("FIGURES_KEEP") {
        std::fs::create_dir_all(&dir).unwrap();
        for f in files {
            std::fs::copy(f, Path::new(&dir).join(format!("{prefix}{}", f.file_name().unwrap().to_str().unwrap())))
                .unwrap();
        }
    }
}

#[test]
fn the_last_checkpoint_renders_to_png_and_svg() {
    let s = session();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("figures/nested");
    let files = render_figures(s, s.snapshots.len() - 1, &dir).unwrap();
    keep(&files, "");
    let names: Vec<_> = files.iter().map(|f| f.file_name().unwrap().to_str().unwrap()).collect();
    assert_eq!(names, ["scores.png", "scores.svg", "scatter.png", "scatter.svg"]);
    for f in &files {
        assert!(f.is_file(), "{} missing", f.display());
    }

    let (w, h, varied) = decode_png(&dir.join("scores.png"));
    assert_eq!((w, h), SCORES_SIZE);
    assert!(w >= 1600 && h >= 900, "scores.png is {w}x{h}");
    assert!(varied, "scores.png is a single flat colour");

    let (w, h, varied) = decode_png(&dir.join("scatter.png"));
    let layers = s.snapshots[0].analysis.layers.len();
    assert_eq!(layers, 3, "the tiny model: embeddings + 2 blocks");
    assert!(w >= 3 * 500 && h >= 500, "scatter.png is {w}x{h}, too small for a row of 3 panels");
    assert!(varied, "scatter.png is a single flat colour");

    for name in ["scores.svg", "scatter.svg"] {
        let svg = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(svg.contains("<svg"), "{name} is not SVG");
        assert!(svg.trim_end().ends_with("</svg>"), "{name} is not closed");
        assert!(svg_texts(&svg).iter().any(|t| t.starts_with("layer ")), "{name} has no <text> with a layer label");
    }
    let texts = svg_texts(&std::fs::read_to_string(dir.join("scatter.svg")).unwrap());
    for l in 0..layers {
        assert!(texts.iter().any(|t| t.starts_with(&format!("layer {l}"))), "scatter.svg has no panel for layer {l}");
    }
    for task in &s.manifest.task_names {
        assert!(texts.contains(task), "scatter.svg has no legend entry for {task}");
    }
    assert!(texts.iter().any(|t| t.starts_with("PC1 (") && t.ends_with("%)")), "axis labels carry explained variance");
}

#[test]
fn a_checkpoint_that_is_not_there_is_an_error() {
    let s = session();
    let out = tempfile::tempdir().unwrap();
    let err = render_figures(s, s.snapshots.len(), out.path()).unwrap_err();
    assert!(matches!(err, ReportError::NotInSession { .. }), "{err:?}");
    assert!(err.to_string().contains(&format!("#{}", s.snapshots.len())), "{err}");

    let mut empty = s.clone();
    empty.snapshots.clear();
    let err = render_figures(&empty, 0, out.path()).unwrap_err();
    assert!(err.to_string().contains("no checkpoints"), "{err}");
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "nothing written on error");
}

#[test]
fn failed_layers_and_collapsed_points_still_render() {
    let mut s = session().clone();
    let snap = &mut s.snapshots[1];
    let failed = &mut snap.analysis.layers[1];
    failed.error = Some("layer 1: seen hidden states contain NaN (12 of 96 points)".into());
    failed.seen_proj.clear();
    failed.unseen_proj.clear();
    let collapsed = &mut snap.analysis.layers[2];
    for p in collapsed.seen_proj.iter_mut().chain(collapsed.unseen_proj.iter_mut()) {
        *p = [0.25, 0.25];
    }
    let out = tempfile::tempdir().unwrap();
    let files = render_figures(&s, 1, out.path()).unwrap();
    keep(&files, "failed-layer-");
    assert_eq!(files.len(), 4);
    let scatter = std::fs::read_to_string(out.path().join("scatter.svg")).unwrap();
    assert!(svg_texts(&scatter).iter().any(|t| t.contains("not analysed")), "the failed layer's panel says so");
    assert!(decode_png(&out.path().join("scatter.png")).2);
}

/// The default experiment's scale and beyond: more tasks than the palette (colours cycle), more
/// layers than fit in one row (panels wrap), thousands of points.
#[test]
fn many_tasks_and_layers_lay_out_in_a_grid() {
    let mut s = session().clone();
    let (tasks, layers, per_task) = (14, 7, 120);
    s.manifest.task_names = (0..tasks).map(|t| format!("task number {t} with a long name")).collect();
    let point =
        |task, seen| PointInfo { task, seen, instruction: String::new(), input: String::new(), output: String::new() };
    s.points = (0..tasks * per_task)
        .map(|i| point(i / per_task, true))
        .chain((0..tasks * 10).map(|i| point(i / 10, false)))
        .collect();
    let mut state = 7u64;
    let mut noise = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) as f32 / (1u64 << 31) as f32) - 0.5
    };
    let last = s.snapshots.len() - 1;
    let template = s.snapshots[last].analysis.layers[0].clone();
    s.snapshots[last].analysis.layers = (0..layers)
        .map(|l| {
            let mut a = template.clone();
            a.layer = l;
            let spread = l as f32 / layers as f32;
            let mut at = |t: usize| {
                let angle = t as f32 / tasks as f32 * std::f32::consts::TAU;
                [spread * 3.0 * angle.cos() + noise(), spread * 3.0 * angle.sin() + noise()]
            };
            a.seen_proj = s.points.iter().filter(|p| p.seen).map(|p| at(p.task)).collect();
            a.unseen_proj = s.points.iter().filter(|p| !p.seen).map(|p| at(p.task)).collect();
            a
        })
        .collect();
    let out = tempfile::tempdir().unwrap();
    let files = render_figures(&s, last, out.path()).unwrap();
    keep(&files, "many-");
    let (w, h, varied) = decode_png(&out.path().join("scatter.png"));
    assert!(varied);
    assert!(w >= 4 * 500 && h >= 2 * 500, "7 panels wrap onto 2 rows of 4: {w}x{h}");
    let (w, h, _) = decode_png(&out.path().join("scores.png"));
    assert_eq!((w, h), SCORES_SIZE);
}
