//! Training without the terminal app: a progress bar on stderr, a summary on stdout.

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;
use std::sync::mpsc;

use super::protocol::{Command, Event, Summary};
use super::worker::{spawn, RunConfig};
use crate::analysis::score_table;

pub fn train(run: &RunConfig, json: bool) -> Result<ExitCode> {
    let (tx, rx) = mpsc::channel();
    let handle = spawn(run.clone(), move |e| tx.send(e).is_ok())?;
    let stop = handle.commands.clone();
    let mut interrupts = 0u32;
    // First Ctrl-C: stop after saving a checkpoint. Second: the user means it.
    ctrlc::set_handler(move || {
        interrupts += 1;
        if interrupts > 1 {
            std::process::exit(130);
        }
        eprintln!("\nstopping: saving a checkpoint (Ctrl-C again to abort)");
        let _ = stop.send(Command::Stop);
    })?;

    let bar = ProgressBar::new(run.steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} {msg} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut accuracy = (0.0, 0.0);
    let mut summary: Option<Summary> = None;
    let mut error: Option<String> = None;
    for event in rx {
        match event {
            Event::Started(info) => bar.suspend(|| {
                eprintln!(
                    "training {} steps on {} ({} parameters, {} tasks) -> {}",
                    info.total_steps,
                    info.device,
                    info.parameters,
                    info.task_names.len(),
                    info.out_dir.display()
                );
                if let Some(note) = &info.device_note {
                    eprintln!("note: {note}");
                }
                for w in &info.warnings {
                    eprintln!("warning: {w}");
                }
            }),
            Event::Progress(p) => {
                bar.set_position(p.step as u64);
                bar.set_message(format!(
                    "loss {:.4} seen {:.1}% unseen {:.1}% {:.1} steps/s",
                    p.loss,
                    100.0 * accuracy.0,
                    100.0 * accuracy.1,
                    p.steps_per_s
                ));
            }
            Event::Checkpoint(s) => {
                accuracy = (s.seen_accuracy, s.unseen_accuracy);
                bar.suspend(|| {
                    eprintln!(
                        "checkpoint step {:>6}: loss {:.4}, seen accuracy {:.1}%, unseen accuracy {:.1}%",
                        s.step,
                        s.loss,
                        100.0 * s.seen_accuracy,
                        100.0 * s.unseen_accuracy
                    );
                    eprint!("{}", score_table(&s.analysis));
                });
            }
            Event::Error(e) => error = Some(e),
            Event::Finished(s) => summary = Some(s),
            Event::Probe(_) => {}
        }
    }
    bar.finish_and_clear();
    let _ = handle.thread.join();
    if let Some(e) = error {
        bail!("training failed: {e}");
    }
    let Some(s) = summary else { bail!("training stopped without a summary") };
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!(
            "{} {} steps in {:.1} s on {}: loss {:.4}, seen accuracy {:.2}%, unseen accuracy {:.2}% (session {})",
            if s.stopped { "stopped after" } else { "trained" },
            s.steps,
            s.seconds,
            s.device,
            s.loss,
            100.0 * s.seen_accuracy,
            100.0 * s.unseen_accuracy,
            run.out_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
