//! The browser edition's build tool, run as `cargo web <command>` (an alias in
//! `.cargo/config.toml`):
//!
//! - `cargo web build`: builds the web crate for wasm32, generates its JS glue with
//!   wasm-bindgen (as a library) and writes the site to `web/dist/`;
//! - `cargo web serve [--port P]`: builds, then serves `web/dist/` on 127.0.0.1;
//! - `cargo web test [--save DIR] [--screenshot FILE] [--kernels K] [--max-n N]
//!   [--budget S]`: builds, serves, drives headless Chromium through `?auto`, and checks
//!   what the page verified and measured (`ATTNBENCH_REQUIRE_BROWSER=1`: a missing
//!   browser fails instead of skipping).

mod browser_test;
mod cdp;
mod checks;
mod chromium;
mod native;
mod page_checks;
mod peer;
mod serve;
mod site;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo web build
       cargo web serve [--port P]
       cargo web test [--save DIR] [--screenshot FILE] [--kernels K,...] [--max-n N] [--budget S]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => no_flags(&args[1..]).and_then(|()| site::build().map(|_| ())),
        Some("serve") => serve_command(&args[1..]),
        Some("test") => browser_test::Options::parse(&args[1..]).and_then(browser_test::run),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cargo web: {message}");
            ExitCode::FAILURE
        }
    }
}

fn no_flags(args: &[String]) -> Result<(), String> {
    match args.first() {
        None => Ok(()),
        Some(flag) => Err(format!("unexpected argument {flag:?}\n{USAGE}")),
    }
}

/// `cargo web serve`: the site on 127.0.0.1 until interrupted.
fn serve_command(args: &[String]) -> Result<(), String> {
    let mut port = 8000;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--port" => port = value(&mut it, flag)?,
            _ => return Err(format!("unexpected argument {flag:?}\n{USAGE}")),
        }
    }
    let dist = site::build()?;
    let server = serve::Server::start(&dist, port).map_err(|e| format!("serving: {e}"))?;
    println!(
        "serving {} at http://{}/ (Ctrl-C stops)",
        dist.display(),
        server.addr()
    );
    server.wait();
    Ok(())
}

/// The value after `flag`, parsed.
fn value<T: std::str::FromStr>(
    it: &mut std::slice::Iter<'_, String>,
    flag: &str,
) -> Result<T, String> {
    let text = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
    text.parse()
        .map_err(|_| format!("{flag}: cannot read {text:?}"))
}
