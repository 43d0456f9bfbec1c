//! `netboot completions SHELL` and `netboot man [COMMAND]`: generated from the clap
//! definitions, so they never drift from the real options.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for; write the script where it loads completions, e.g.
    /// `netboot completions bash > /etc/bash_completion.d/netboot`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// A subcommand's page (`netboot-explain(1)`) instead of the main page.
    pub command: Option<String>,
}

pub fn completions(args: CompletionsArgs) -> ExitCode {
    let mut cmd = crate::Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "netboot", &mut out);
    let _ = out.flush();
    ExitCode::SUCCESS
}

pub fn man(args: ManArgs) -> ExitCode {
    let mut cmd = crate::Cli::command();
    cmd.build();
    let man = match &args.command {
        None => clap_mangen::Man::new(cmd),
        Some(name) => match cmd.find_subcommand(name) {
            // The page is titled `netboot-NAME`, as man(1) looks it up.
            Some(sub) => clap_mangen::Man::new(sub.clone()).title(format!("netboot-{name}")),
            None => {
                let names: Vec<_> = cmd
                    .get_subcommands()
                    .map(|s| s.get_name().to_string())
                    .collect();
                eprintln!(
                    "netboot man: no command `{name}` (commands: {})",
                    names.join(", ")
                );
                return ExitCode::from(2);
            }
        },
    };
    let mut bytes = Vec::new();
    if let Err(e) = man.render(&mut bytes) {
        eprintln!("netboot man: {e}");
        return ExitCode::from(2);
    }
    crate::stdout::emit(&String::from_utf8_lossy(&bytes));
    ExitCode::SUCCESS
}
