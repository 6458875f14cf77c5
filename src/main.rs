//! `attnbench`: the command-line front end. See `attnbench --help` and README.md.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
