//! The commands: each reads the stack, talks to AWS through the engine, and returns the exit
//! code (0 done, 1 error, 2 changes pending for `diff --exit-code`).

use crate::aws::{self, Cx};
use crate::cli::{Cli, Command, DiffArgs, DownArgs, Output, PackageArgs, ProgressMode, UpArgs};
use crate::engine::{self, Action, Outputs, Plan, ResourceError};
use crate::progress::{Bars, Plain, Progress};
use crate::stack::{self, Loaded};
use crate::{resources, secret};
use anyhow::{bail, Context};
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub const EXIT_OK: u8 = 0;
pub const EXIT_PENDING: u8 = 2;

pub fn run(cli: Cli) -> anyhow::Result<u8> {
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
        Command::Up(_) | Command::Diff(_) | Command::Down(_) | Command::Outputs(_) => {
            let runtime =
                tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
            runtime.block_on(run_async(&cli))
        }
    }
}

async fn run_async(cli: &Cli) -> anyhow::Result<u8> {
    match &cli.command {
        Command::Up(args) => up(cli, args).await,
        Command::Diff(args) => diff(cli, args).await,
        Command::Down(args) => down(cli, args).await,
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
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect()
}

fn progress_for(mode: ProgressMode) -> Arc<dyn Progress> {
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

pub(crate) async fn context(
    cli: &Cli,
    loaded: &Loaded,
    secret_stdin: bool,
    timeout: Duration,
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
        stack: s.name.to_string(),
        partition: aws::partition_of(&region).to_string(),
        region,
        account,
        user_tags: s.tags.clone(),
        kms: aws_sdk_kms::Client::new(&config),
        iam: aws_sdk_iam::Client::new(&config),
        ssm: aws_sdk_ssm::Client::new(&config),
        ec2: aws_sdk_ec2::Client::new(&config),
        lambda: aws_sdk_lambda::Client::new(&config),
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        lex: aws_sdk_lexmodelsv2::Client::new(&config),
        connect: aws_sdk_connect::Client::new(&config),
        secret,
        release_phone_number: false,
        secret_source: secret_env
            .unwrap_or(stack::default_secret_env().as_str())
            .to_string(),
        timeout,
        progress: progress_for(cli.progress),
    })
}

async fn up(cli: &Cli, args: &UpArgs) -> anyhow::Result<u8> {
    let loaded = stack::load(&args.file.file)?;
    let mut cx = context(cli, &loaded, args.secret.secret_stdin, args.timeout).await?;
    cx.release_phone_number = args.release_phone_number;
    let resources = resources::for_stack(&loaded);
    let plan = engine::plan_up(&cx, &resources)
        .await
        .map_err(plan_failed(&loaded))?;
    print!("{}", plan.render());
    if !plan.pending() {
        print_outputs(&plan.outputs);
        crate::outputs::print_phone_line(&plan.outputs);
        return Ok(EXIT_OK);
    }
    let blockers = engine::blockers(&cx, &resources, &plan);
    if !blockers.is_empty() {
        bail!("{} (nothing was changed)", blockers.join("; "));
    }
    match engine::apply_up(&cx, &resources, &plan, cx.progress.as_ref()).await {
        Ok(outputs) => {
            println!("\nStack `{}` is up to date.", cx.stack);
            print_outputs(&outputs);
            crate::outputs::print_phone_line(&outputs);
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
    let mut cx = context(cli, &loaded, false, args.timeout).await?;
    cx.release_phone_number = args.release_phone_number;
    let resources = resources::all(&cx.stack);
    let plan = engine::plan_down(&cx, &resources)
        .await
        .map_err(plan_failed(&loaded))?;
    let blockers = engine::blockers(&cx, &resources, &plan);
    if !blockers.is_empty() {
        print!("{}", render_down(&plan));
        bail!("{} (nothing was deleted)", blockers.join("; "));
    }
    if !plan.pending() {
        print!("{}", render_down(&plan));
        println!(
            "Nothing to delete: stack `{}` owns no resources in {}.",
            cx.stack, cx.region
        );
        return Ok(EXIT_OK);
    }
    print!("{}", render_down(&plan));
    if !args.yes && !confirm(&cx.stack)? {
        println!("Aborted: nothing was deleted.");
        return Ok(1);
    }
    match engine::apply_down(&cx, &resources, &plan, cx.progress.as_ref()).await {
        Ok(deleted) => {
            println!(
                "\nRemoved {} resource(s) of stack `{}`:",
                deleted.len(),
                cx.stack
            );
            for d in deleted {
                println!("  - {d}");
            }
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

pub(crate) fn print_outputs(outputs: &Outputs) {
    if outputs.is_empty() {
        return;
    }
    println!("\nOutputs:");
    for (k, v) in engine::printable(outputs) {
        println!("  {k} = {v}");
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

fn package(args: &PackageArgs) -> anyhow::Result<u8> {
    let source = args
        .source
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf());
    let zip = crate::package::build_lambda_zip(&source)?;
    std::fs::write(&args.output, &zip.bytes)
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    println!("path: {}", args.output.display());
    println!("size: {} bytes", zip.bytes.len());
    println!("CodeSha256: {}", zip.code_sha256);
    Ok(EXIT_OK)
}
