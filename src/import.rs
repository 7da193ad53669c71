//! `callgrade import DIR`: bulk import of a folder of recordings described by
//! `DIR/recordings.csv`. Safe to re-run: call ids already present count as duplicates.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use anyhow::Context;
use futures::StreamExt;

use crate::domain::call::{CallMeta, RawCallMeta};
use crate::ingest::{IngestError, Ingestor};

/// Every column as text: numbers such as customer phone numbers must not be guessed into
/// integers (which is why the row does not simply flatten `RawCallMeta`).
#[derive(Debug, serde::Deserialize)]
struct ImportRow {
    file: String,
    call_id: String,
    agent: String,
    started_at: String,
    direction: String,
    #[serde(default)]
    queue: String,
    #[serde(default)]
    customer_number: Option<String>,
    #[serde(default)]
    channel_layout: Option<String>,
}

impl ImportRow {
    fn meta(&self) -> RawCallMeta {
        RawCallMeta {
            call_id: self.call_id.clone(),
            agent: self.agent.clone(),
            started_at: self.started_at.clone(),
            direction: self.direction.clone(),
            queue: self.queue.clone(),
            customer_number: self.customer_number.clone(),
            channel_layout: self.channel_layout.clone(),
        }
    }
}

#[derive(Debug, Default)]
pub struct ImportSummary {
    pub accepted: usize,
    pub duplicates: usize,
    /// One line per rejected row: where, which code, why.
    pub rejected: Vec<(String, &'static str, String)>,
}

impl ImportSummary {
    pub fn print(&self) {
        println!(
            "accepted {}, duplicates {}, rejected {}",
            self.accepted,
            self.duplicates,
            self.rejected.len()
        );
        let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, code, _) in &self.rejected {
            *by_code.entry(code).or_default() += 1;
        }
        for (code, n) in by_code {
            println!("  {code}: {n}");
        }
        for (row, code, why) in &self.rejected {
            println!("  rejected {row} [{code}]: {why}");
        }
    }
}

enum Outcome {
    Accepted,
    Duplicate,
    Rejected(&'static str, String),
}

pub async fn import_dir(
    ingestor: &Ingestor,
    dir: &Path,
    workers: usize,
    progress: bool,
) -> anyhow::Result<ImportSummary> {
    let csv_path = dir.join("recordings.csv");
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(&csv_path)
        .with_context(|| format!("opening {}", csv_path.display()))?;
    let rows: Vec<(usize, Result<ImportRow, String>)> = reader
        .deserialize::<ImportRow>()
        .enumerate()
        .map(|(i, r)| (i + 2, r.map_err(|e| e.to_string())))
        .collect();

    let bar = if progress {
        indicatif::ProgressBar::new(rows.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} {elapsed_precise} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );

    let outcomes: Vec<(String, Outcome)> = futures::stream::iter(rows)
        .map(|(line, row)| {
            let bar = bar.clone();
            async move {
                let label = match &row {
                    Ok(r) => format!("line {line} ({})", r.file),
                    Err(_) => format!("line {line}"),
                };
                let outcome = import_row(ingestor, dir, row).await;
                bar.inc(1);
                (label, outcome)
            }
        })
        .buffer_unordered(workers.max(1))
        .collect()
        .await;
    bar.finish_and_clear();

    let mut summary = ImportSummary::default();
    for (label, outcome) in outcomes {
        match outcome {
            Outcome::Accepted => summary.accepted += 1,
            Outcome::Duplicate => summary.duplicates += 1,
            Outcome::Rejected(code, why) => summary.rejected.push((label, code, why)),
        }
    }
    summary.rejected.sort();
    Ok(summary)
}

async fn import_row(ingestor: &Ingestor, dir: &Path, row: Result<ImportRow, String>) -> Outcome {
    let row = match row {
        Ok(row) => row,
        Err(e) => return Outcome::Rejected("invalid_row", e),
    };
    let meta = match CallMeta::parse(&row.meta()) {
        Ok(meta) => meta,
        Err(e) => return Outcome::Rejected("invalid_metadata", e),
    };
    let rel = Path::new(&row.file);
    if row.file.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Outcome::Rejected(
            "invalid_row",
            format!(
                "file {:?} must be a relative path inside the import folder",
                row.file
            ),
        );
    }
    let path = dir.join(rel);
    if !path.is_file() {
        return Outcome::Rejected("missing_file", format!("{} does not exist", path.display()));
    }
    let staged = match ingestor.stage_file(&path).await {
        Ok(staged) => staged,
        Err(e) => return Outcome::Rejected(e.code(), format!("{e:#}")),
    };
    match ingestor.ingest(&meta, staged, "import").await {
        Ok(_) => Outcome::Accepted,
        Err(IngestError::Duplicate(_)) => Outcome::Duplicate,
        Err(e) => Outcome::Rejected(e.code(), format!("{e:#}")),
    }
}
