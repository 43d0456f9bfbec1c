//! `netboot completions SHELL` and `netboot man [COMMAND]`: generated from the clap
//! definitions, so they never drift from the real options.

use std::io::Write;
use std::process::ExitCode;

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

/// `cmd` is the whole command line's definition (`Cli::command()`), handed in by `main`.
pub fn completions(args: CompletionsArgs, mut cmd: clap::Command) -> ExitCode {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "netboot", &mut out);
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// `cmd` as for [`completions`].
pub fn man(args: ManArgs, mut cmd: clap::Command) -> ExitCode {
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
