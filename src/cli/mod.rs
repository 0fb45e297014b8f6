//! Command-line front end. Every subcommand calls the same library functions as the GUI.

mod args;
mod commands;
mod desktop;
mod progress;

use anyhow::Result;
use clap::{CommandFactory, Parser};

pub use args::{Cli, Command};

/// Runs the command line; returns the process exit code (2 for usage errors and refusals).
pub fn run(argv: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once("sliceplan".to_string()).chain(argv)) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with code 0; usage errors to stderr with code 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    progress::set_quiet(cli.quiet);
    sliceplan::log::init_cli(cli.verbose, cli.quiet);
    let result: Result<()> = match cli.command {
        None => commands::gui(args::GuiArgs { data: None }),
        Some(command) => dispatch(command),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            let mut message = format!("{e:#}");
            // The library names no flags (the GUI has none); here they are the remedy.
            if message.contains("use a smaller patch or batch size") {
                message.push_str(" (--patch, --batch)");
            }
            tracing::debug!(target: "sliceplan", "error: {e:?}");
            eprintln!("sliceplan: {message}");
            2
        }
    }
}

fn dispatch(command: Command) -> Result<()> {
    match command {
        Command::Gui(a) => commands::gui(a),
        Command::Info(a) => commands::info(a),
        Command::Demo(a) => commands::demo(a),
        Command::Plan(a) => commands::plan(a),
        Command::ExportNnunet(a) => commands::export_nnunet(a),
        Command::Status(a) => commands::status(a),
        Command::Handoff(a) => commands::handoff(a),
        Command::Interp(a) => commands::interp(a),
        Command::Train(a) => commands::train(a),
        Command::Simulate(a) => commands::simulate(a),
        Command::Study(a) => commands::study(a),
        Command::Cache(a) => commands::cache(a),
        Command::Completions(a) => {
            clap_complete::generate(
                a.shell,
                &mut Cli::command(),
                "sliceplan",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::InstallDesktop(a) => desktop::install_desktop(a),
    }
}
