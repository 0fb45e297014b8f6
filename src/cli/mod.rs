//! Command-line front end. Every subcommand calls the same library functions as the GUI.

mod args;
mod commands;
mod help;

use anyhow::Result;

pub use args::Args;

/// Runs the command line; returns the process exit code.
pub fn run(argv: Vec<String>) -> i32 {
    let mut argv = argv;
    let before = argv.len();
    argv.retain(|a| a != "--quiet");
    commands::set_quiet(argv.len() != before);
    // `sliceplan COMMAND --help` shows that command's options rather than a missing-option error.
    if argv.len() > 1 && argv[1..].iter().any(|a| a == "--help" || a == "-h") {
        match help::command_help(&argv[0]) {
            Some(text) => println!("{text}"),
            None => println!("{}", help::OVERVIEW),
        }
        return 0;
    }
    let mut items = argv.into_iter();
    let command = items.next();
    let args = Args::new(items.collect());
    let result: Result<()> = match command.as_deref() {
        None => commands::gui(Args::new(Vec::new())),
        Some("gui") => commands::gui(args),
        Some("help" | "--help" | "-h") => {
            match args.into_rest().first().and_then(|c| help::command_help(c)) {
                Some(text) => println!("{text}"),
                None => println!("{}", help::OVERVIEW),
            }
            Ok(())
        }
        Some("info") => commands::info(args),
        Some("demo") => commands::demo(args),
        Some("plan") => commands::plan(args),
        Some("export-nnunet") => commands::export_nnunet(args),
        Some("status") => commands::status(args),
        Some("interp") => commands::interp(args),
        Some("train") => commands::train(args),
        Some("simulate") => commands::simulate(args),
        Some("study") => commands::study(args),
        Some("cache") => commands::cache(args),
        Some(other) => Err(anyhow::anyhow!(
            "unknown command '{other}' (see `sliceplan help`)"
        )),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            let mut message = format!("{e:#}");
            // The library names no flags (the GUI has none); here they are the remedy.
            if message.contains("use a smaller patch or batch size") {
                message.push_str(" (--patch, --batch)");
            }
            eprintln!("sliceplan: {message}");
            2
        }
    }
}
