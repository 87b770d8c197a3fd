//! The `export` command's projection flags, parsed here so that main stays a dispatcher.

use clap::Args;

use std::path::PathBuf;

use crate::report::export::{ExportFormat, ExportOptions, Projection};

#[derive(Debug, Clone, Args)]
pub struct ProjectionArgs {
    /// pca (proj_L.npy, as stored) or tsne (tsne_L.npy too: t-SNE computed now, seeded).
    #[arg(long, default_value = "pca")]
    pub projection: Projection,
    /// Seed of the t-SNE layout (default: the session's seed).
    #[arg(long, value_name = "N")]
    pub tsne_seed: Option<u64>,
}

impl ProjectionArgs {
    /// The export's options with these projection choices.
    pub fn options(
        &self,
        checkpoint: usize,
        layer: Option<usize>,
        out: PathBuf,
        format: ExportFormat,
    ) -> ExportOptions {
        ExportOptions { checkpoint, layer, out, format, projection: self.projection, tsne_seed: self.tsne_seed }
    }
}
