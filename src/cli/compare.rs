//! `clusterscope compare DIR DIR...`: its flags, and its headless ends, `--json` (one object on
//! stdout) and `--figures OUT`. Without either, main opens the compare view
//! (`ui::terminal::compare`) on the comparison read here, so a bad directory is said before the
//! terminal is taken.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::report::compare::Comparison;
use crate::report::compare_figures::render_compare_figures;
use crate::report::compare_json::comparison_json;

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Two to six session directories, of the same experiment or of different ones.
    // Counted by `Comparison::open`, whose one-line error says how many it takes.
    #[arg(value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Print the comparison as one JSON object on stdout instead of opening the app.
    #[arg(long)]
    pub json: bool,
    /// Write figures (PNG and SVG) to this directory instead of opening the app: every curve
    /// overlaid, and the deepest layer all sessions have at each one's last checkpoint.
    #[arg(long, value_name = "OUT")]
    pub figures: Option<PathBuf>,
}

/// Reads the sessions and does what the flags ask; returns the comparison when the app should
/// show it (neither `--json` nor `--figures`), once it is known there is a terminal to show it on.
pub fn run(args: &CompareArgs) -> Result<Option<Comparison>, CliError> {
    let comparison = Comparison::open(&args.dirs)?;
    if !args.json && args.figures.is_none() {
        // Said here rather than by the app, which would point at `train --headless`.
        if !(std::io::stdout().is_terminal() && std::io::stdin().is_terminal()) {
            return Err(CliError::CompareNeedsTerminal);
        }
        return Ok(Some(comparison));
    }
    if let Some(out) = &args.figures {
        let files = render_compare_figures(&comparison, out)?;
        eprintln!("wrote {} figures to {}", files.len(), out.display());
    }
    if args.json {
        println!("{}", serde_json::to_string(&comparison_json(&comparison))?);
    }
    Ok(None)
}
