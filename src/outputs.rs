//! `resetpw outputs`: the stack's outputs (the phone number to call, the instance, the flow,
//! the bot alias, the function) read from the live account. Read-only, so it works in CI with
//! read permissions only; nothing is built or changed. People get the few outputs they act on;
//! `--all` and `-o json` give every output.

use crate::cli::{Cli, Output, OutputsArgs};
use crate::commands::{context, progress_for, EXIT_OK};
use crate::engine::{self, Outputs};
use crate::{resources, stack};
use std::path::Path;
use std::time::Duration;

/// The outputs a person acts on, in the order shown: the number to call, the Connect instance
/// and flow, the bot alias, the function and the directory key's alias.
pub const SHORT_LIST: [&str; 6] = [
    "connect-phone-number.number",
    "connect-instance.id",
    "connect-flow.id",
    "bot-alias.arn",
    "fulfillment-function.name",
    "directory-key-alias.name",
];

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
                for line in lines(&shown, args.all, &args.file.file) {
                    println!("{line}");
                }
                print_phone_line(&shown);
            }
        }
    }
    Ok(EXIT_OK)
}

/// The outputs as people read them: the short list (or every output with `all`), then how many
/// more there are and how to see them.
pub fn lines(outputs: &Outputs, all: bool, file: &Path) -> Vec<String> {
    let mut lines = vec!["Outputs:".to_string()];
    if all {
        lines.extend(engine::printable(outputs).map(|(k, v)| format!("  {k} = {v}")));
        return lines;
    }
    let printable: Outputs = engine::printable(outputs)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let short: Vec<(&str, &String)> = SHORT_LIST
        .iter()
        .filter_map(|k| printable.get(*k).map(|v| (*k, v)))
        .collect();
    lines.extend(short.iter().map(|(k, v)| format!("  {k} = {v}")));
    let more = printable.len() - short.len();
    if more > 0 {
        let file_arg = if file == Path::new(crate::cli::DEFAULT_STACK_FILE) {
            String::new()
        } else {
            format!(" -f {}", file.display())
        };
        lines.push(format!("  {more} more: resetpw outputs{file_arg} --all"));
    }
    lines
}

/// The line that matters most at the end of `up`: the number to call.
pub fn print_phone_line(outputs: &Outputs) {
    if let Some(number) = outputs.get("connect-phone-number.number") {
        println!("\nCall {number} to reach the password reset line.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(keys: &[&str]) -> Outputs {
        keys.iter()
            .map(|k| (k.to_string(), format!("value of {k}")))
            .collect()
    }

    #[test]
    fn the_short_list_comes_first_in_its_order_with_a_count_of_the_rest() {
        let all = outputs(&[
            "directory-key-alias.name",
            "connect-phone-number.number",
            "vpc.id",
            "private-subnet-1.id",
            "connect-instance.id",
            "connect-instance.arn",
        ]);
        let lines = lines(&all, false, Path::new("stacks/demo.yaml"));
        assert_eq!(
            lines,
            [
                "Outputs:",
                "  connect-phone-number.number = value of connect-phone-number.number",
                "  connect-instance.id = value of connect-instance.id",
                "  directory-key-alias.name = value of directory-key-alias.name",
                "  3 more: resetpw outputs -f stacks/demo.yaml --all",
            ]
        );
    }

    #[test]
    fn all_lists_every_output_and_the_default_file_needs_no_flag() {
        let all = outputs(&["vpc.id", "directory-key-alias.name"]);
        let every = lines(&all, true, Path::new("resetpw.yaml"));
        assert_eq!(every.len(), 3, "{every:?}");
        assert!(every.iter().any(|l| l.contains("vpc.id")));
        let short = lines(&all, false, Path::new("resetpw.yaml"));
        assert_eq!(short.last().unwrap(), "  1 more: resetpw outputs --all");
        let only_short = lines(
            &outputs(&["directory-key-alias.name"]),
            false,
            Path::new("x.yaml"),
        );
        assert_eq!(
            only_short.len(),
            2,
            "no `more` line when nothing is hidden: {only_short:?}"
        );
    }
}
