use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = resetpw::cli::Cli::parse();
    match resetpw::commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}
