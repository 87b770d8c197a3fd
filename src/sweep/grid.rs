//! The grid: `KEY=V1,V2,...` axes over a base spec, expanded to points (every combination, times
//! the seeds), each point's spec made by writing its values into the base spec's TOML.

use std::collections::BTreeMap;

use super::SweepError;
use crate::experiment::Experiment;
use crate::session::sweep::{GridAxis, SweepDir, SweepPoint};

/// At most this many points in one sweep: each is a session on disk.
pub const MAX_POINTS: usize = 10_000;

/// Reads one `--grid KEY=V1,V2,...`.
pub fn parse_axis(given: &str) -> Result<GridAxis, SweepError> {
    let bad = |reason: &str| SweepError::Grid { given: given.to_string(), reason: reason.to_string() };
    let (key, values) = given.split_once('=').ok_or_else(|| bad("expected KEY=V1,V2,... (e.g. train.lr=1e-3,3e-3)"))?;
    let key = key.trim();
    let path_ok = !key.is_empty()
        && key.split('.').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
    if !path_ok {
        return Err(bad("the key is a dotted spec path such as train.lr or model.layers"));
    }
    if key == "seed" {
        return Err(bad("seeds are set with --seeds N"));
    }
    let values: Vec<String> = values.split(',').map(|v| v.trim().to_string()).collect();
    if values.iter().any(String::is_empty) {
        return Err(bad("an empty value"));
    }
    Ok(GridAxis { key: key.to_string(), values })
}

/// Every combination of the axes' values (the last axis fastest), times `seeds` seeds from the
/// base spec's own.
pub fn expand(axes: &[GridAxis], seeds: usize, base_seed: u64) -> Result<Vec<SweepPoint>, SweepError> {
    let combos = axes.iter().try_fold(1usize, |n, a| n.checked_mul(a.values.len())).unwrap_or(usize::MAX);
    let total = combos.saturating_mul(seeds);
    if total > MAX_POINTS {
        return Err(SweepError::Grid {
            given: axes.iter().map(|a| a.key.as_str()).collect::<Vec<_>>().join(", "),
            reason: format!("{total} points; a sweep holds at most {MAX_POINTS}"),
        });
    }
    let mut points = Vec::with_capacity(total);
    for combo in 0..combos {
        let mut params = BTreeMap::new();
        let mut rest = combo;
        for axis in axes.iter().rev() {
            params.insert(axis.key.clone(), axis.values[rest % axis.values.len()].clone());
            rest /= axis.values.len();
        }
        for s in 0..seeds {
            let index = points.len();
            points.push(SweepPoint {
                index,
                params: params.clone(),
                seed: base_seed.wrapping_add(s as u64),
                dir: SweepDir::point_dir_name(index),
            });
        }
    }
    Ok(points)
}

/// `key=value` pairs of a point, as shown.
pub fn describe(point: &SweepPoint) -> String {
    let mut s: Vec<String> = point.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    s.push(format!("seed={}", point.seed));
    s.join(" ")
}

/// The point's experiment: the base spec with the point's values and seed written in, validated.
pub fn point_experiment(base_spec: &str, point: &SweepPoint) -> Result<Experiment, SweepError> {
    let spec_error = |source| SweepError::Point { index: point.index, params: describe(point), source };
    let mut doc: toml::Table = base_spec
        .parse()
        .map_err(|e: toml::de::Error| spec_error(crate::experiment::SpecError::Parse(e.message().to_string())))?;
    for (key, value) in &point.params {
        set(&mut doc, key, value).map_err(|reason| {
            spec_error(crate::experiment::SpecError::Invalid { field: key.clone(), value: value.clone(), reason })
        })?;
    }
    Experiment::from_toml(&doc.to_string(), Some(point.seed)).map_err(spec_error)
}

/// Writes `value` (read as a TOML value where it is one, else as a string) at the dotted `key`.
fn set(doc: &mut toml::Table, key: &str, value: &str) -> Result<(), String> {
    let parsed = format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_string()));
    let mut parts: Vec<&str> = key.split('.').collect();
    let last = parts.pop().unwrap_or(key);
    let mut table = doc;
    for part in parts {
        let entry = table.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry.as_table_mut().ok_or_else(|| format!("{part} is not a table in the spec"))?;
    }
    table.insert(last.to_string(), parsed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_expands_to_every_combination_times_the_seeds() {
        let axes = vec![parse_axis("train.lr=1e-3,3e-3").expect("lr"), parse_axis("model.layers=1,2,3").expect("l")];
        let points = expand(&axes, 2, 7).expect("points");
        assert_eq!(points.len(), 12);
        assert_eq!(points[0].params["train.lr"], "1e-3");
        assert_eq!(points[0].params["model.layers"], "1");
        assert_eq!((points[0].seed, points[1].seed), (7, 8));
        assert_eq!(points[2].params["model.layers"], "2");
        assert_eq!(points[11].params["train.lr"], "3e-3");
        assert_eq!(points[11].dir, "points/p0011");
        for bad in ["lr", "=1", "train..lr=1", "train.lr=", "train.lr=1,,2", "seed=1,2", "a b=1"] {
            assert!(parse_axis(bad).is_err(), "{bad}");
        }
        let huge = vec![parse_axis(&format!("a={}", vec!["1"; 200].join(","))).expect("a"); 2];
        assert!(expand(&huge, 1, 0).is_err());
    }

    #[test]
    fn values_land_in_the_spec_with_their_types() {
        let base = crate::experiment::spec::DEFAULT_SPEC;
        let point = SweepPoint {
            index: 0,
            params: [("train.lr".to_string(), "0.002".to_string()), ("model.preset".to_string(), "tiny".to_string())]
                .into(),
            seed: 5,
            dir: SweepDir::point_dir_name(0),
        };
        let exp = point_experiment(base, &point).expect("valid");
        assert_eq!(exp.spec.train.lr, 0.002);
        assert_eq!(exp.spec.model.preset, "tiny");
        assert_eq!(exp.seed, 5);
        let bad = SweepPoint { params: [("train.lr".to_string(), "-1".to_string())].into(), ..point.clone() };
        let e = point_experiment(base, &bad).expect_err("negative lr");
        assert!(e.to_string().contains("train.lr"), "{e}");
        let unknown = SweepPoint { params: [("train.nope".to_string(), "1".to_string())].into(), ..point };
        assert!(point_experiment(base, &unknown).is_err());
    }
}
