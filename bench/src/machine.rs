//! The machine the figures come from, and when.

use std::process::Command;

use crate::report::Markdown;

fn command(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn cpuinfo_field(name: &str) -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| info.lines().find(|l| l.starts_with(name)).and_then(|l| l.split(':').nth(1)).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| "unknown".into())
}

/// The machine section.
pub fn section(md: &mut Markdown) {
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<u64>().unwrap_or(0)))
        .map(|kib| format!("{:.1} GiB", kib as f64 / 1_048_576.0))
        .unwrap_or_else(|| "unknown".into());
    md.heading(2, "Machine");
    md.table(
        &["", ""],
        &[
            vec!["date".into(), command("date", &["-u", "+%Y-%m-%d %H:%M UTC"])],
            vec![
                "CPU".into(),
                format!("{} ({} logical cores)", cpuinfo_field("model name"), std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)),
            ],
            vec!["memory".into(), memory],
            vec!["kernel".into(), command("uname", &["-sr"])],
            vec!["rustc".into(), command("rustc", &["--version"])],
            vec!["wrk".into(), command("sh", &["-c", "wrk --version 2>&1 | head -1"])],
            vec!["profile".into(), "`cargo lambda build --release` (opt-level 3, codegen-units 16, strip, lto as in Cargo.toml)".into()],
        ],
    );
}
