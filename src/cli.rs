//! Command-line interface.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// Reconciles a declarative stack file into a self-service password-reset phone line on AWS.
#[derive(Parser, Debug)]
#[command(name = "resetpw", version, about, propagate_version = true)]
pub struct Cli {
    /// AWS profile (default: the standard chain: AWS_PROFILE, environment, SSO).
    #[arg(long, global = true, env = "AWS_PROFILE", hide_env_values = true)]
    pub profile: Option<String>,
    /// AWS region, when the stack file names none (default: AWS_REGION or the profile's).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Progress display: spinners on a terminal, timestamped lines otherwise.
    #[arg(long, global = true, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create or converge everything the stack file describes.
    Up(UpArgs),
    /// Show what `up` would change (exit 0 none, 2 pending with --exit-code, 1 error).
    Diff(DiffArgs),
    /// Delete everything the stack owns, dependents first.
    Down(DownArgs),
    /// Check a stack file without calling AWS.
    Validate(FileArg),
    /// Print the stack's outputs (phone number, ARNs, ids) from the live account; read-only.
    Outputs(OutputsArgs),
    /// Print the stack file's JSON Schema.
    Schema,
    /// Build the fulfillment Lambda's deterministic deployment zip.
    Package(PackageArgs),
}

#[derive(Args, Debug)]
pub struct FileArg {
    /// The stack file.
    #[arg(
        short = 'f',
        long = "file",
        env = "RESETPW_FILE",
        default_value = "resetpw.yaml"
    )]
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct SecretArg {
    /// Read the directory service account's password from standard input instead of the
    /// environment variable the stack names.
    #[arg(long)]
    pub secret_stdin: bool,
}

#[derive(Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub file: FileArg,
    #[command(flatten)]
    pub secret: SecretArg,
    /// Longest wait for any resource to become ready, e.g. 30m.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "30m")]
    pub timeout: Duration,
    /// Allow replacing the stack's claimed phone number when the `phone_number` settings
    /// changed (the old number is released and can never be claimed again).
    #[arg(long)]
    pub release_phone_number: bool,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    #[command(flatten)]
    pub file: FileArg,
    #[command(flatten)]
    pub secret: SecretArg,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Exit 2 when changes are pending, 0 when none (1 is always an error).
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Delete without asking (required when standard input is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Longest wait for any resource to go away, e.g. 45m.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "45m")]
    pub timeout: Duration,
    /// Release the stack's claimed phone number (and delete an owned Connect instance, which
    /// releases its numbers). Without it, `down` refuses and changes nothing: a released
    /// number can never be claimed again.
    #[arg(long)]
    pub release_phone_number: bool,
}

#[derive(Args, Debug)]
pub struct OutputsArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Args, Debug)]
pub struct PackageArgs {
    /// Where to write the zip.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// The resetpw source tree holding lambda/ (default: the tree this binary was built from).
    #[arg(long)]
    pub source: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    Auto,
    Bars,
    Plain,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Text,
    Json,
}
