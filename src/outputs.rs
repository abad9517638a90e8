//! `resetpw outputs`: the stack's outputs (the phone number to call, the instance, the flow,
//! the bot alias, the function) read from the live account. Read-only, so it works in CI with
//! read permissions only; nothing is built or changed.

use crate::cli::{Cli, Output, OutputsArgs};
use crate::commands::{context, progress_for, EXIT_OK};
use crate::engine::{self, Outputs};
use crate::{resources, stack};
use std::time::Duration;

pub async fn run(cli: &Cli, args: &OutputsArgs) -> anyhow::Result<u8> {
    let loaded = stack::load(&args.file.file)?;
    let progress = progress_for(cli.progress);
    let cx = context(cli, &loaded, false, Duration::from_secs(60), progress).await?;
    let resources = resources::for_stack(&loaded);
    let outputs = engine::live_outputs(&cx, &resources)
        .await
        .map_err(|e| anyhow::anyhow!("could not read the stack's outputs: {e}"))?;
    let shown: Outputs = engine::printable(&outputs)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&shown)?),
        Output::Text => {
            if shown.is_empty() {
                println!("Stack `{}` has no resources in {}.", cx.stack, cx.region);
            } else {
                println!("Outputs:");
                for (k, v) in &shown {
                    println!("  {k} = {v}");
                }
                print_phone_line(&shown);
            }
        }
    }
    Ok(EXIT_OK)
}

/// The line that matters most at the end of `up`: the number to call.
pub fn print_phone_line(outputs: &Outputs) {
    if let Some(number) = outputs.get("connect-phone-number.number") {
        println!("\nCall {number} to reach the password reset line.");
    }
}
