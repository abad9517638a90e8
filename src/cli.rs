//! Command-line interface.

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

/// `resetpw --version`: the version, the commit and the CodeSha256 of the Lambda package a
/// release build carries (see build.rs).
pub const VERSION: &str = env!("RESETPW_VERSION");

/// Reconciles a declarative stack file into a self-service password-reset phone line on AWS.
#[derive(Parser, Debug)]
#[command(name = "resetpw", version = VERSION, about, propagate_version = true)]
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
    /// Add the AWS SDK's raw detail to error messages (RUST_LOG, e.g. RUST_LOG=debug, does the
    /// same and also prints the SDK's own log on stderr).
    #[arg(long, short = 'v', global = true)]
    pub verbose: bool,
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
    /// Print the stack's outputs (the number to call, the instance, flow, bot alias, function,
    /// key alias; `--all` for every one) from the live account; read-only.
    Outputs(OutputsArgs),
    /// Print the stack file's JSON Schema.
    Schema,
    /// Write the fulfillment Lambda's deterministic deployment zip (the one `up` deploys).
    Package(PackageArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(CompletionsArgs),
    /// Print the manual page (roff), e.g. `resetpw man > resetpw.1`.
    Man,
    /// Talk to the stack's deployed bot (exit 0 fulfilled, 3 failed or not fulfilled, 1 error).
    Chat(ChatArgs),
    /// Call the stack's line end to end: a voice call in the local cloud, a chat contact on AWS
    /// (exit 0 ended as --expect says, 3 ended otherwise, 1 error).
    Call(CallArgs),
}

/// Resources changed at once by `up` and `down` when `--parallelism` is not given. Measured
/// with `cargo run --example parallelism` (see the README): the demo stack's cold `up` stops
/// getting faster well below this, and Terraform users expect 10.
pub const DEFAULT_PARALLELISM: usize = 10;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to print completions for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ApplyArgs {
    /// How many resources may be created, changed or deleted at once.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PARALLELISM,
          value_parser = clap::value_parser!(u16).range(1..=256).map(usize::from))]
    pub parallelism: usize,
    /// Output format: `json` prints one JSON object per line on stdout (the plan, each
    /// resource event, then a summary); human progress stays on stderr.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// The stack file when `-f` is not given.
pub const DEFAULT_STACK_FILE: &str = "resetpw.yaml";

#[derive(Args, Debug)]
pub struct FileArg {
    /// The stack file.
    #[arg(
        short = 'f',
        long = "file",
        env = "RESETPW_FILE",
        default_value = DEFAULT_STACK_FILE
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
    /// Apply without asking (on a terminal `up` shows the plan and asks first; without a
    /// terminal on standard input it never asks).
    #[arg(long, short = 'y')]
    pub yes: bool,
    #[command(flatten)]
    pub apply: ApplyArgs,
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
    #[command(flatten)]
    pub apply: ApplyArgs,
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
    /// Print every output (subnets, route tables, ARNs, ...), not only the ones a person acts
    /// on; `-o json` always has them all.
    #[arg(long)]
    pub all: bool,
    /// Output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

#[derive(Args, Debug)]
pub struct PackageArgs {
    /// Where to write the zip.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// Build lambda/ of this resetpw source tree instead of writing the package built into
    /// the binary (also RESETPW_LAMBDA_SOURCE; a debug build builds its own tree).
    #[arg(long)]
    pub source: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ChatArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// Send this text (repeatable, sent in order); without it, lines are read from standard input.
    #[arg(long)]
    pub say: Vec<String>,
    /// A session attribute as the contact flow sets it, e.g. CallerNumber=+15550100 (repeatable).
    #[arg(long = "session-attribute", value_name = "KEY=VALUE")]
    pub session_attribute: Vec<String>,
    /// Output format: the conversation as text, or the transcript as JSON.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// The demo user's number on record (examples/demo.yaml, scripts/local-directory's rp.demo).
pub const DEMO_CALLER: &str = "+15550100020";

#[derive(Args, Debug)]
pub struct CallArgs {
    #[command(flatten)]
    pub file: FileArg,
    /// The caller's number (a voice call; a chat has none).
    #[arg(long, value_name = "NUMBER", default_value = DEMO_CALLER)]
    pub from: String,
    /// What the caller says, one turn each (repeatable, in order); without it, the lines of
    /// standard input (on a voice call each read when the line waits for the caller, so a
    /// caller can answer a code texted during the call; its end hangs up).
    #[arg(long)]
    pub say: Vec<String>,
    /// How the contact must end for exit code 0 (otherwise 3).
    #[arg(long, value_enum, default_value_t = Expect::Fulfilled)]
    pub expect: Expect,
    /// voice: a call to the claimed number (the local cloud only); chat: a chat contact through
    /// the stack's flow; auto: voice against the local cloud, chat against AWS.
    #[arg(long, value_enum, default_value_t = Channel::Auto)]
    pub channel: Channel,
    /// Output format: the transcript as text, or as JSON.
    #[arg(long, short = 'o', value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// How a call ended.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Disconnected by the line after its goodbye: the password was reset.
    Fulfilled,
    /// Handed to the agent queue.
    Queued,
    /// Any other end (call back later, the caller left first).
    Ended,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Fulfilled => "fulfilled",
            Expect::Queued => "queued",
            Expect::Ended => "ended",
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Auto,
    Voice,
    Chat,
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
