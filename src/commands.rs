//! The commands: each reads the stack, talks to AWS through the engine, and returns the exit
//! code (0 done, 1 error, 2 changes pending for `diff --exit-code`).

use crate::aws::{self, Cx};
use crate::cli::{Cli, Command, DiffArgs, DownArgs, Output, PackageArgs, ProgressMode, UpArgs};
use crate::engine::{self, Action, Outputs, Plan, ResourceError};
use crate::progress::{Bars, Described, JsonLines, Plain, Progress};
use crate::stack::{self, Loaded};
use crate::{resources, secret};
use anyhow::{bail, Context};
use clap::CommandFactory;
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub const EXIT_OK: u8 = 0;
pub const EXIT_PENDING: u8 = 2;

pub fn run(cli: Cli) -> anyhow::Result<u8> {
    let rust_log = std::env::var_os("RUST_LOG").is_some_and(|v| !v.is_empty());
    if rust_log {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    aws::set_verbose(cli.verbose || rust_log);
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
    match &cli.command {
        Command::Validate(f) => validate(&f.file),
        Command::Schema => {
            println!("{}", schema());
            Ok(EXIT_OK)
        }
        Command::Package(args) => package(args),
        Command::Completions(args) => {
            print!("{}", completions(args.shell));
            Ok(EXIT_OK)
        }
        Command::Man => {
            std::io::stdout()
                .write_all(&man_page()?)
                .context("cannot write the man page to standard output")?;
            Ok(EXIT_OK)
        }
        Command::Up(_)
        | Command::Diff(_)
        | Command::Down(_)
        | Command::Chat(_)
        | Command::Call(_)
        | Command::Outputs(_) => {
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            let result = runtime.block_on(run_async(&cli));
            if let Err(e) = &result {
                json_failure_summary(&cli, e);
            }
            result
        }
    }
}

/// Shell completions for `resetpw`, generated from the same definitions clap parses with.
pub fn completions(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "resetpw", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The roff manual page: the top-level page with a section for each subcommand.
pub fn man_page() -> anyhow::Result<Vec<u8>> {
    let cmd = Cli::command();
    let mut out = Vec::new();
    let render = |out: &mut Vec<u8>| -> std::io::Result<()> {
        let man = clap_mangen::Man::new(cmd.clone());
        man.render_title(out)?;
        man.render_name_section(out)?;
        man.render_synopsis_section(out)?;
        man.render_description_section(out)?;
        man.render_options_section(out)?;
        for sub in cmd.get_subcommands().filter(|c| !c.is_hide_set()) {
            let name = sub.get_name();
            let body = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            let mut usage = sub.clone().bin_name(format!("resetpw {name}"));
            let synopsis = usage.render_usage().to_string();
            let mut roff = clap_mangen::roff::Roff::new();
            roff.control("SH", [format!("RESETPW {}", name.to_uppercase()).as_str()])
                .text([clap_mangen::roff::roman(body)])
                .control("PP", [])
                .text([clap_mangen::roff::bold(synopsis)]);
            for arg in sub.get_arguments().filter(|a| !a.is_hide_set()) {
                let takes_value = arg.get_action().takes_values();
                let value = match arg.get_value_names() {
                    Some(names) if takes_value => format!(" <{}>", names.join(" ")),
                    _ if takes_value => format!(" <{}>", arg.get_id().as_str().to_uppercase()),
                    _ => String::new(),
                };
                let flag = match (arg.get_short(), arg.get_long()) {
                    (Some(s), Some(l)) => format!("-{s}, --{l}{value}"),
                    (None, Some(l)) => format!("--{l}{value}"),
                    (Some(s), None) => format!("-{s}{value}"),
                    (None, None) => format!("<{}>", arg.get_id().as_str().to_uppercase()),
                };
                let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                let defaults: Vec<String> = arg
                    .get_default_values()
                    .iter()
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect();
                if !defaults.is_empty() && takes_value {
                    help.push_str(&format!(" [default: {}]", defaults.join(", ")));
                }
                let choices: Vec<String> = arg
                    .get_possible_values()
                    .iter()
                    .filter(|v| !v.is_hide_set())
                    .map(|v| v.get_name().to_string())
                    .collect();
                if !choices.is_empty() && takes_value {
                    help.push_str(&format!(" [possible values: {}]", choices.join(", ")));
                }
                roff.control("TP", [])
                    .text([clap_mangen::roff::bold(flag)])
                    .text([clap_mangen::roff::roman(help)]);
            }
            roff.to_writer(out)?;
        }
        man.render_version_section(out)?;
        Ok(())
    };
    render(&mut out).context("cannot render the man page")?;
    Ok(out)
}

/// With `--output json`, a failed `up`/`down` still ends its stream with a summary object, so a
/// CI reading stdout always sees how the run ended.
fn json_failure_summary(cli: &Cli, error: &anyhow::Error) {
    let command = match &cli.command {
        Command::Up(a) if a.apply.output == Output::Json => "up",
        Command::Down(a) if a.apply.output == Output::Json => "down",
        _ => return,
    };
    JsonLines::emit(&json!({
        "type": "summary",
        "time": JsonLines::now(),
        "command": command,
        "ok": false,
        "error": format!("{error:#}"),
    }));
}

async fn run_async(cli: &Cli) -> anyhow::Result<u8> {
    match &cli.command {
        Command::Up(args) => up(cli, args).await,
        Command::Diff(args) => diff(cli, args).await,
        Command::Down(args) => down(cli, args).await,
        Command::Chat(args) => crate::chat::run(cli, args).await,
        Command::Call(args) => crate::call::run(cli, args).await,
        Command::Outputs(args) => crate::outputs::run(cli, args).await,
        _ => unreachable!("handled synchronously"),
    }
}

/// The stack file's JSON Schema, generated from the same types that read it.
pub fn schema() -> String {
    let schema = schemars::schema_for!(stack::Stack);
    serde_json::to_string_pretty(&schema).expect("a schema serializes")
}

fn validate(file: &Path) -> anyhow::Result<u8> {
    let loaded = stack::load(file)?;
    for warning in stack::warnings(&loaded) {
        eprintln!("warning: {warning}");
    }
    let sections = sections(&loaded);
    println!(
        "{}: stack `{}` is valid ({})",
        file.display(),
        loaded.stack.name,
        if sections.is_empty() {
            "no sections".to_string()
        } else {
            sections.join(", ")
        }
    );
    Ok(EXIT_OK)
}

fn sections(loaded: &Loaded) -> Vec<&'static str> {
    let s = &loaded.stack;
    [
        ("directory", s.directory.is_some()),
        ("secret", s.secret.is_some()),
        ("network", s.network.is_some()),
        ("fulfillment", s.fulfillment.is_some()),
        ("bot", s.bot.is_some()),
        ("connect", s.connect.is_some()),
        ("verification", s.verification.is_some()),
        ("notify", s.notify.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect()
}

pub(crate) fn progress_for(mode: ProgressMode) -> Arc<dyn Progress> {
    let bars = match mode {
        ProgressMode::Bars => true,
        ProgressMode::Plain => false,
        ProgressMode::Auto => std::io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
    };
    if bars {
        Arc::new(Bars::new())
    } else {
        Arc::new(Plain)
    }
}

/// Where a run's plan and results go: human text on stdout, or (`--output json`) JSON lines on
/// stdout with the plan for people on stderr.
struct Report {
    json: Option<Arc<JsonLines>>,
    progress: Arc<dyn Progress>,
}

impl Report {
    fn new(cli: &Cli, output: Output) -> Self {
        let human = progress_for(cli.progress);
        match output {
            Output::Text => Report {
                json: None,
                progress: human,
            },
            Output::Json => {
                let json = Arc::new(JsonLines::new(human));
                Report {
                    progress: json.clone(),
                    json: Some(json),
                }
            }
        }
    }

    /// Shows the plan: as text on stdout, or as a `plan` object with the text on stderr.
    fn plan(&self, plan: &Plan, text: &str) {
        match &self.json {
            None => print!("{text}"),
            Some(json) => {
                eprint!("{text}");
                for step in &plan.steps {
                    json.describe(
                        step.id,
                        Described {
                            kind: step.kind.to_string(),
                            name: step.name.clone(),
                            action: step.action.word().to_string(),
                        },
                    );
                }
                let mut value = plan.to_json();
                value["type"] = json!("plan");
                value["time"] = json!(JsonLines::now());
                JsonLines::emit(&value);
            }
        }
    }

    /// A text line for people: stdout, or stderr when stdout carries JSON.
    fn say(&self, text: &str) {
        if self.json.is_some() {
            eprintln!("{text}");
        } else {
            println!("{text}");
        }
    }

    /// The closing object of a successful JSON run.
    fn summary(&self, command: &str, plan: &Plan, outputs: &Outputs) {
        if self.json.is_none() {
            return;
        }
        let printable: serde_json::Map<String, serde_json::Value> = engine::printable(outputs)
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        JsonLines::emit(&json!({
            "type": "summary",
            "time": JsonLines::now(),
            "command": command,
            "ok": true,
            "stack": plan.stack,
            "region": plan.region,
            "counts": plan.counts(),
            "outputs": printable,
            "error": null,
        }));
    }
}

pub(crate) async fn context(
    cli: &Cli,
    loaded: &Loaded,
    secret_stdin: bool,
    timeout: Duration,
    progress: Arc<dyn Progress>,
) -> anyhow::Result<Cx> {
    let s = &loaded.stack;
    let secret_env = s.secret.as_ref().map(|x| x.env.as_str());
    let secret = secret::read(secret_env, secret_stdin)?;
    let config = aws::sdk_config(
        cli.profile.as_deref(),
        s.region.as_ref().map(|r| r.as_str()),
        cli.region.as_deref(),
    )
    .await?;
    let account = aws::account_of(&config).await?;
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    Ok(Cx {
        user_tags: s.tags.clone(),
        secret,
        secret_source: secret_env
            .unwrap_or(stack::default_secret_env().as_str())
            .to_string(),
        ..Cx::new(
            &config,
            &s.name.to_string(),
            &region,
            &account,
            timeout,
            progress,
        )
    })
}

async fn up(cli: &Cli, args: &UpArgs) -> anyhow::Result<u8> {
    let loaded = stack::load(&args.file.file)?;
    let report = Report::new(cli, args.apply.output);
    let mut cx = context(
        cli,
        &loaded,
        args.secret.secret_stdin,
        args.timeout,
        report.progress.clone(),
    )
    .await?;
    cx.release_phone_number = args.release_phone_number;
    let resources = resources::for_stack(&loaded);
    let plan = engine::plan_up(&cx, &resources)
        .await
        .map_err(plan_failed(&loaded))?;
    report.plan(&plan, &plan.render());
    if !plan.pending() {
        print_outputs(&report, &plan.outputs, &args.file.file);
        report.summary("up", &plan, &plan.outputs);
        if report.json.is_none() {
            crate::outputs::print_phone_line(&plan.outputs);
        }
        return Ok(EXIT_OK);
    }
    let blockers = engine::blockers(&cx, &resources, &plan);
    if !blockers.is_empty() {
        bail!("{}", engine::blocked("nothing was changed", &blockers));
    }
    if !args.yes && std::io::stdin().is_terminal() {
        let question = format!("Apply these changes to stack `{}`? [y/N] ", cx.stack);
        if !yes_no(&question)? {
            bail!("not applied: the answer was not `y` (nothing was changed); run `resetpw up` again and answer `y`, or pass --yes");
        }
    }
    match engine::apply_up(
        &cx,
        &resources,
        &plan,
        cx.progress.as_ref(),
        args.apply.parallelism,
    )
    .await
    {
        Ok(outputs) => {
            report.say(&format!("\nStack `{}` is up to date.", cx.stack));
            print_outputs(&report, &outputs, &args.file.file);
            report.summary("up", &plan, &outputs);
            if report.json.is_none() {
                crate::outputs::print_phone_line(&outputs);
            }
            Ok(EXIT_OK)
        }
        Err(errors) => Err(apply_failed("up", &errors)),
    }
}

async fn diff(cli: &Cli, args: &DiffArgs) -> anyhow::Result<u8> {
    let loaded = stack::load(&args.file.file)?;
    let cx = context(
        cli,
        &loaded,
        args.secret.secret_stdin,
        Duration::from_secs(60),
        progress_for(cli.progress),
    )
    .await?;
    let resources = resources::for_stack(&loaded);
    let plan = engine::plan_up(&cx, &resources)
        .await
        .map_err(plan_failed(&loaded))?;
    match args.output {
        Output::Text => print!("{}", plan.render()),
        Output::Json => println!("{}", serde_json::to_string_pretty(&plan.to_json())?),
    }
    Ok(if args.exit_code && plan.pending() {
        EXIT_PENDING
    } else {
        EXIT_OK
    })
}

async fn down(cli: &Cli, args: &DownArgs) -> anyhow::Result<u8> {
    let loaded = stack::load(&args.file.file)?;
    let interactive = std::io::stdin().is_terminal();
    if !args.yes && !interactive {
        bail!("refusing to delete without --yes: standard input is not a terminal, so resetpw cannot ask (nothing was deleted)");
    }
    let report = Report::new(cli, args.apply.output);
    let mut cx = context(cli, &loaded, false, args.timeout, report.progress.clone()).await?;
    cx.release_phone_number = args.release_phone_number;
    let resources = resources::all(&cx.stack);
    let plan = engine::plan_down(&cx, &resources)
        .await
        .map_err(plan_failed(&loaded))?;
    let blockers = engine::blockers(&cx, &resources, &plan);
    if !blockers.is_empty() {
        report.plan(&plan, &render_down(&plan));
        bail!("{}", engine::blocked("nothing was deleted", &blockers));
    }
    report.plan(&plan, &render_down(&plan));
    if !plan.pending() {
        report.say(&format!(
            "Nothing to delete: stack `{}` owns no resources in {}.",
            cx.stack, cx.region
        ));
        report.summary("down", &plan, &Outputs::new());
        return Ok(EXIT_OK);
    }
    if !args.yes && !confirm(&cx.stack)? {
        if report.json.is_some() {
            bail!("not deleted: the stack name was not typed (nothing was deleted)");
        }
        println!("Aborted: nothing was deleted.");
        return Ok(1);
    }
    match engine::apply_down(
        &cx,
        &resources,
        &plan,
        cx.progress.as_ref(),
        args.apply.parallelism,
    )
    .await
    {
        Ok(deleted) => {
            report.say(&format!(
                "\nRemoved {} resource(s) of stack `{}`:",
                deleted.len(),
                cx.stack
            ));
            for d in deleted {
                report.say(&format!("  - {d}"));
            }
            report.summary("down", &plan, &Outputs::new());
            Ok(EXIT_OK)
        }
        Err(errors) => Err(apply_failed("down", &errors)),
    }
}

fn render_down(plan: &Plan) -> String {
    let mut out = format!("Stack `{}` in {}:\n", plan.stack, plan.region);
    for step in &plan.steps {
        let mark = if step.action == Action::Delete {
            "-"
        } else {
            " "
        };
        out.push_str(&format!("  {mark} {}  {}\n", step.kind, step.name));
        for note in &step.notes {
            out.push_str(&format!("      note: {note}\n"));
        }
    }
    out
}

fn confirm(stack: &str) -> anyhow::Result<bool> {
    eprint!("Delete these resources of stack `{stack}`? Type the stack name to confirm: ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == stack)
}

/// Asks a yes/no question on the terminal; only `y` or `yes` is yes (end of input is no).
fn yes_no(question: &str) -> anyhow::Result<bool> {
    eprint!("{question}");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer from standard input (nothing was changed)")?;
    Ok(is_yes(&answer))
}

fn is_yes(answer: &str) -> bool {
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// The outputs a person acts on, and how many more `resetpw outputs --all` shows.
fn print_outputs(report: &Report, outputs: &Outputs, file: &Path) {
    if engine::printable(outputs).next().is_none() {
        return;
    }
    report.say("");
    for line in crate::outputs::lines(outputs, false, file) {
        report.say(&line);
    }
}

/// A planning error; one about a value of the stack file points at its line and column.
fn plan_failed(loaded: &Loaded) -> impl Fn(ResourceError) -> anyhow::Error + '_ {
    move |e| match e {
        ResourceError::Stack { path, message } => {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            anyhow::Error::new(loaded.error_at(&path, format!("{message} (nothing was changed)")))
        }
        e => anyhow::anyhow!("{e}")
            .context("could not plan: reading the live state failed (nothing was changed)"),
    }
}

fn apply_failed(command: &str, errors: &[ResourceError]) -> anyhow::Error {
    let list: Vec<String> = errors.iter().map(|e| format!("  - {e}")).collect();
    anyhow::anyhow!(
        "{} resource(s) failed:\n{}\nFix the cause and run `resetpw {command}` again: it continues from the live state.",
        errors.len(),
        list.join("\n")
    )
}

/// `resetpw package`: the package `up` deploys — the one built into this binary, or lambda/ of a
/// source tree built now (`--source`, `RESETPW_LAMBDA_SOURCE`, or a debug build's own tree).
fn package(args: &PackageArgs) -> anyhow::Result<u8> {
    use crate::resources::lambda::code::Source;
    let source = match &args.source {
        Some(root) => Source::Build {
            root: root.clone(),
            why: "--source",
        },
        None => Source::bundled(),
    };
    let (bytes, code_sha256, origin) = match source {
        Source::Embedded(embedded) => (
            embedded.bytes.to_vec(),
            embedded.code_sha256.to_string(),
            format!("built into resetpw {}", env!("CARGO_PKG_VERSION")),
        ),
        Source::Build { root, why } => {
            eprintln!(
                "building the fulfillment Lambda from {} ({why})",
                root.join("lambda").display()
            );
            let zip = crate::package::build_lambda_zip(&root)?;
            (
                zip.bytes,
                zip.code_sha256,
                format!("built from {}", root.join("lambda").display()),
            )
        }
        Source::File(_) => unreachable!("`package` never reads a stack file's zip"),
    };
    std::fs::write(&args.output, &bytes)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    println!("path: {}", args.output.display());
    println!("size: {} bytes", bytes.len());
    println!("CodeSha256: {code_sha256}");
    println!("source: {origin}");
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_confirms() {
        for yes in ["y\n", "Y\n", "yes\n", " YES \r\n"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n\n", "no\n", "yep\n", "resetpw-demo\n"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    #[test]
    fn completions_and_man_page_name_every_subcommand() {
        let names: Vec<String> = Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        assert!(names.len() >= 8, "{names:?}");
        for shell in [
            clap_complete::Shell::Bash,
            clap_complete::Shell::Zsh,
            clap_complete::Shell::Fish,
            clap_complete::Shell::PowerShell,
        ] {
            let script = completions(shell);
            for name in &names {
                assert!(script.contains(name.as_str()), "{shell}: {name} missing");
            }
            assert!(
                script.contains("parallelism"),
                "{shell}: --parallelism missing"
            );
        }
        let man = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(man.starts_with(".ie") || man.contains(".TH"), "not roff");
        for name in &names {
            assert!(
                man.contains(&format!("RESETPW {}", name.to_uppercase())),
                "man page has no section for {name}"
            );
        }
        assert!(man.contains("parallelism"));
    }
}
