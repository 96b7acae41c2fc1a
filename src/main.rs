use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = agentsend::cli::Cli::parse();
    match agentsend::cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agentsend: {e:#}");
            ExitCode::FAILURE
        }
    }
}
