//! `sverka quarantine DIR [--code CODE] [--format table|json] [--lang ky|ru|en] [--show ID]`:
//! the rejected submissions of a data directory, oldest first, with when they came, who sent them,
//! their codes and the first error in words a clerk understands; `--show ID` prints one in full,
//! every finding and the submitted bytes. The same records `GET /api/v1/quarantine` serves.
//! A fixed version of a rejected submission is a new submission; nothing here changes the store.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::json;
use sverka_model::validate;
use sverka_store::{CheckpointPolicy, Config, Problem, QuarantineFilter, QuarantineRecord, Store};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Lang {
    Ky,
    Ru,
    En,
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Lang::Ky => "ky",
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// The data directory
    dir: PathBuf,
    /// Only submissions with a finding of this code (e.g. E401)
    #[arg(long)]
    code: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// The language of the messages
    #[arg(long, value_enum, default_value = "en")]
    lang: Lang,
    /// Show this one record in full: every finding and the submitted bytes
    #[arg(long)]
    show: Option<u64>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = Config { checkpoint: CheckpointPolicy::Manual, ..Config::default() };
    let store = Store::open_with(&args.dir, config)
        .with_context(|| format!("opening {}", args.dir.display()))?;
    let lang = args.lang.code();
    if let Some(id) = args.show {
        let filter =
            QuarantineFilter { code: None, after_id: Some(id.saturating_sub(1)), limit: Some(1) };
        let records = store.quarantine(&filter).context("reading the quarantine")?;
        let Some(record) = records.into_iter().find(|r| r.id == id) else {
            eprintln!(
                "sverka quarantine: {} has no quarantined submission {id}",
                args.dir.display()
            );
            return Ok(ExitCode::from(1));
        };
        match args.format {
            Format::Json => println!("{:#}", record_json(&record, lang)),
            Format::Table => print_record(&record, lang),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let filter = QuarantineFilter { code: args.code.clone(), after_id: None, limit: None };
    let records = store.quarantine(&filter).context("reading the quarantine")?;
    match args.format {
        Format::Json => {
            let list: Vec<_> = records.iter().map(|r| record_json(r, lang)).collect();
            println!("{:#}", serde_json::Value::Array(list));
        }
        Format::Table => print_table(&records, lang),
    }
    Ok(ExitCode::SUCCESS)
}

/// A stored problem's message in `lang` (the stored English one when its rule is unknown).
fn message(problem: &Problem, lang: &str) -> String {
    let params = problem.params.iter().map(|(k, v)| (k.as_str(), v.as_str()));
    validate::message_of(&problem.code, problem.line.as_deref(), params, lang)
        .unwrap_or_else(|| problem.message.clone())
}

fn codes(record: &QuarantineRecord) -> String {
    record.problems.iter().map(|p| p.code.as_str()).collect::<Vec<_>>().join(",")
}

fn print_table(records: &[QuarantineRecord], lang: &str) {
    if records.is_empty() {
        println!("no quarantined submissions");
        return;
    }
    println!("{:>6}  {:<24}  {:<28}  {:<14}  message", "id", "received", "sender", "codes");
    for record in records {
        let first = record.problems.first().map(|p| message(p, lang)).unwrap_or_default();
        println!(
            "{:>6}  {:<24}  {:<28}  {:<14}  {first}",
            record.id,
            record.received_at,
            record.sender,
            codes(record)
        );
    }
    println!("{} quarantined; `--show ID` prints one in full", records.len());
}

fn print_record(record: &QuarantineRecord, lang: &str) {
    println!("id:       {}", record.id);
    println!("received: {}", record.received_at);
    println!("sender:   {}", record.sender);
    println!("findings:");
    for problem in &record.problems {
        match &problem.line {
            Some(line) => println!("  {} ({line}): {}", problem.code, message(problem, lang)),
            None => println!("  {}: {}", problem.code, message(problem, lang)),
        }
    }
    match std::str::from_utf8(&record.bytes) {
        Ok(text) => println!("bytes ({}):\n{text}", record.bytes.len()),
        Err(_) => {
            println!("bytes ({}, base64):\n{}", record.bytes.len(), STANDARD.encode(&record.bytes))
        }
    }
}

fn record_json(record: &QuarantineRecord, lang: &str) -> serde_json::Value {
    let problems: Vec<_> = record
        .problems
        .iter()
        .map(|p| json!({ "code": p.code, "line": p.line, "message": message(p, lang) }))
        .collect();
    let mut item = json!({
        "id": record.id,
        "received_at": record.received_at,
        "sender": record.sender,
        "codes": record.problems.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(),
        "problems": problems,
    });
    match std::str::from_utf8(&record.bytes) {
        Ok(text) => item["text"] = json!(text),
        Err(_) => item["base64"] = json!(STANDARD.encode(&record.bytes)),
    }
    item
}
