//! One result line: a metric of one test against one server, printed as JSON on stdout.

use serde_json::json;

use crate::stats::median;

/// Whether a bigger number is better (throughput) or worse (latency, time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// A measured metric of one test against one target.
pub struct Record<'a> {
    pub test: &'a str,
    pub metric: &'a str,
    pub target: &'a str,
    pub better: Better,
    pub samples: Vec<f64>,
    pub failures: u64,
    /// What the issue asks of netboot for this metric (see `table` for the syntax), or empty.
    pub goal: &'a str,
}

impl Record<'_> {
    pub fn print(&self) {
        let line = json!({
            "test": self.test,
            "metric": self.metric,
            "target": self.target,
            "better": match self.better { Better::Higher => "higher", Better::Lower => "lower" },
            "median": median(&self.samples),
            "samples": self.samples,
            "failures": self.failures,
            "goal": self.goal,
        });
        println!("{line}");
    }

    /// Prints the server's CPU cost per unit of work (`metric` names the unit), lower being
    /// better; nothing when no repetition could read the server's CPU time (no pid given).
    pub fn print_server_cpu(
        test: &str,
        metric: &str,
        target: &str,
        samples: Vec<f64>,
        failures: u64,
        goal: &str,
    ) {
        if samples.is_empty() {
            return;
        }
        Record {
            test,
            metric,
            target,
            better: Better::Lower,
            samples,
            failures,
            goal,
        }
        .print();
    }
}

/// `netboot-bench record`: prints a result line for a number measured outside (compile time,
/// memory), so every row of the table comes through the same format.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    test: String,
    #[arg(long)]
    metric: String,
    #[arg(long, default_value = "netboot")]
    target: String,
    /// `higher` or `lower` is better.
    #[arg(long, default_value = "lower")]
    better: String,
    /// One measurement (repeatable).
    #[arg(long = "sample", required = true)]
    samples: Vec<f64>,
    #[arg(long, default_value_t = 0)]
    failures: u64,
    #[arg(long, default_value = "")]
    goal: String,
}

pub fn run(args: &Args) -> Result<(), String> {
    let better = match args.better.as_str() {
        "higher" => Better::Higher,
        "lower" => Better::Lower,
        other => return Err(format!("--better takes higher or lower, not {other:?}")),
    };
    Record {
        test: &args.test,
        metric: &args.metric,
        target: &args.target,
        better,
        samples: args.samples.clone(),
        failures: args.failures,
        goal: &args.goal,
    }
    .print();
    Ok(())
}
