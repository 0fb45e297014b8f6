//! The `sliceplan` binary: the GUI with no arguments, or a subcommand (see `sliceplan help`).

mod cli;

fn main() {
    sliceplan::train::backend::install_quiet_device_panics();
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(cli::run(args));
}
