//! Training without the terminal app: a progress bar on stderr, a summary on stdout.

use indicatif::{ProgressBar, ProgressStyle};
use std::sync::mpsc;

use super::CliError;
use crate::analysis::score_table;
use crate::record::Summary;
use crate::train::{spawn, AnalyserEvent, RunConfig, StopCause, TrainerCommand, TrainerEvent};

/// What the headless front end listens to: both producers of a run, on one channel.
enum Heard {
    Trainer(TrainerEvent),
    Analyser(AnalyserEvent),
}

/// Trains `run` to the end (or Ctrl-C), printing progress, and prints the summary.
pub fn train(run: &RunConfig, json: bool) -> Result<(), CliError> {
    let (tx, rx) = mpsc::channel();
    let analyser_tx = tx.clone();
    let handle = spawn(
        run.clone(),
        move |e| tx.send(Heard::Trainer(e)).is_ok(),
        move |e| analyser_tx.send(Heard::Analyser(e)).is_ok(),
    )?;
    let stop = handle.commands.clone();
    let mut interrupts = 0u32;
    // First Ctrl-C: stop after saving a checkpoint. Second: the user means it.
    ctrlc::set_handler(move || {
        interrupts += 1;
        if interrupts > 1 {
            std::process::exit(130);
        }
        eprintln!("\nstopping: saving a checkpoint (Ctrl-C again to abort)");
        let _ = stop.send(TrainerCommand::Stop(StopCause::Signal));
    })?;

    let bar = ProgressBar::new(run.steps as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} {msg} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut accuracy = (0.0, 0.0);
    let mut summary: Option<Summary> = None;
    let mut error = None;
    for event in rx {
        match event {
            Heard::Trainer(TrainerEvent::Started(info)) => bar.suspend(|| {
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
            Heard::Trainer(TrainerEvent::Progress(p)) => {
                bar.set_position(p.step as u64);
                bar.set_message(format!(
                    "loss {:.4} seen {:.1}% unseen {:.1}% {:.1} steps/s",
                    p.loss,
                    100.0 * accuracy.0,
                    100.0 * accuracy.1,
                    p.steps_per_s
                ));
            }
            Heard::Analyser(AnalyserEvent::Checkpoint(s)) => {
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
            Heard::Trainer(TrainerEvent::Failed(e)) | Heard::Analyser(AnalyserEvent::Failed(e)) => error = Some(e),
            Heard::Trainer(TrainerEvent::Finished(s)) => summary = Some(s),
        }
    }
    bar.finish_and_clear();
    let _ = handle.thread.join();
    if let Some(e) = error {
        return Err(CliError::Run(e));
    }
    let Some(s) = summary else { return Err(CliError::NoSummary) };
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
    Ok(())
}
