//! What an import did: every setting with its outcome, per-repository content figures, and
//! everything that could not be taken with the reason, as text and JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Created,
    /// The target has it already (a second run, or a built-in).
    Exists,
    /// Dry run: would have been created.
    WouldCreate,
    /// Arca cannot take it (a format it lacks, scripts, …): listed with the reason.
    Skipped,
    Failed,
}

#[derive(Clone, Debug, Serialize)]
pub struct Item {
    pub kind: String,
    pub name: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RepoContent {
    pub format: String,
    /// Assets (docker: manifests and blobs) copied by this run.
    pub copied: u64,
    pub bytes: u64,
    /// Already on the target with the same checksum (a second run).
    pub unchanged: u64,
    /// Derived files the target makes itself (Maven metadata and checksums, repodata, indexes).
    pub derived: u64,
    /// Docker tags set on the target.
    pub tags: u64,
    /// Components the target holds for this repository after the run.
    pub components: u64,
    /// Imported earlier, no longer at the source.
    pub deleted_at_source: Vec<String>,
    pub pruned: u64,
    /// Assets Arca cannot take, with the reason.
    pub skipped: Vec<String>,
    pub failed: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub dry_run: bool,
    /// Repositories created or found on the target, of those the source has.
    pub repositories_total: usize,
    pub items: Vec<Item>,
    pub repositories: BTreeMap<String, RepoContent>,
    pub notes: Vec<String>,
    pub elapsed_seconds: f64,
    pub assets_copied: u64,
    pub bytes_copied: u64,
    pub assets_per_second: f64,
    pub megabytes_per_second: f64,
}

#[derive(Default)]
struct Inner {
    items: Vec<Item>,
    repos: BTreeMap<String, RepoContent>,
    notes: Vec<String>,
}

/// Shared by the concurrent copies; the lock is held only to add a line.
pub struct Collector {
    dry_run: bool,
    inner: Mutex<Inner>,
    /// The repository being copied, on a terminal; `None` otherwise (a line per repository).
    bar: Mutex<Option<ProgressBar>>,
    terminal: bool,
}

impl Collector {
    pub fn new(dry_run: bool) -> Self {
        Collector {
            dry_run,
            inner: Mutex::new(Inner::default()),
            bar: Mutex::new(None),
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// A repository's content pass begins: on a terminal, a progress line that counts its
    /// assets and bytes as they pass (the source lists no total, so no percentage).
    pub fn start_repo(&self, name: &str, format: &str) {
        self.repo(name, format, |_| ());
        if !self.terminal {
            return;
        }
        let bar = ProgressBar::new_spinner().with_prefix(format!("{name} ({format})"));
        let style = ProgressStyle::with_template(
            "{spinner} {prefix}: {pos} assets, {msg} [{elapsed_precise}]",
        );
        if let Ok(style) = style {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(200));
        *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
    }

    /// A repository's content pass ended: the bar is cleared, or (not on a terminal) one line
    /// says what it did.
    pub fn end_repo(&self, name: &str, took: Duration) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
        let line = self.with(|i| i.repos.get(name).map(|r| repo_line(name, r, took)));
        if let Some(line) = line {
            eprintln!("{line}");
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        // A panic elsewhere while holding the lock leaves plain data behind: keep using it.
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    pub fn item(&self, kind: &str, name: &str, outcome: Outcome, detail: impl Into<String>) {
        let detail = detail.into();
        match outcome {
            Outcome::Failed => tracing::warn!(kind, name, %detail, "import failed"),
            _ => tracing::info!(kind, name, ?outcome, "import"),
        }
        self.with(|i| {
            i.items.push(Item {
                kind: kind.to_owned(),
                name: name.to_owned(),
                outcome,
                detail,
            })
        });
    }

    pub fn note(&self, n: impl Into<String>) {
        let n = n.into();
        self.with(|i| i.notes.push(n));
    }

    pub fn repo<R>(&self, name: &str, format: &str, f: impl FnOnce(&mut RepoContent) -> R) -> R {
        let (out, done, bytes) = self.with(|i| {
            let r = i.repos.entry(name.to_owned()).or_default();
            if r.format.is_empty() {
                r.format = format.to_owned();
            }
            let out = f(r);
            (out, r.done(), r.bytes)
        });
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            bar.set_position(done);
            bar.set_message(format!("{:.1} MB", bytes as f64 / 1e6));
        }
        out
    }

    pub fn finish(&self, elapsed: Duration) -> Report {
        self.with(|i| {
            let assets: u64 = i.repos.values().map(|r| r.copied).sum();
            let bytes: u64 = i.repos.values().map(|r| r.bytes).sum();
            let secs = elapsed.as_secs_f64().max(1e-3);
            Report {
                dry_run: self.dry_run,
                repositories_total: i
                    .items
                    .iter()
                    .filter(|x| {
                        x.kind == "repository"
                            && matches!(x.outcome, Outcome::Created | Outcome::Exists)
                    })
                    .count(),
                items: i.items.clone(),
                repositories: i.repos.clone(),
                notes: i.notes.clone(),
                elapsed_seconds: (secs * 1000.0).round() / 1000.0,
                assets_copied: assets,
                bytes_copied: bytes,
                assets_per_second: (assets as f64 / secs * 10.0).round() / 10.0,
                megabytes_per_second: (bytes as f64 / 1e6 / secs * 100.0).round() / 100.0,
            }
        })
    }
}

impl RepoContent {
    /// Assets dealt with so far, whatever became of them.
    fn done(&self) -> u64 {
        self.copied
            + self.unchanged
            + self.derived
            + self.skipped.len() as u64
            + self.failed.len() as u64
    }
}

/// The line a repository's pass leaves when the output is not a terminal (a log, CI).
fn repo_line(name: &str, r: &RepoContent, took: Duration) -> String {
    let secs = took.as_secs_f64().max(1e-3);
    format!(
        "arca import: {name} ({}): {} copied ({:.1} MB), {} unchanged, {} derived, {} skipped, {} failed in {:.1} s ({:.1} assets/s)",
        r.format,
        r.copied,
        r.bytes as f64 / 1e6,
        r.unchanged,
        r.derived,
        r.skipped.len(),
        r.failed.len(),
        secs,
        r.copied as f64 / secs,
    )
}

impl Report {
    /// Items that failed plus assets that failed: the exit code is 1 when this is not zero.
    pub fn failures(&self) -> usize {
        self.items
            .iter()
            .filter(|i| i.outcome == Outcome::Failed)
            .count()
            + self
                .repositories
                .values()
                .map(|r| r.failed.len())
                .sum::<usize>()
    }

    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "arca import{}: settings",
            if self.dry_run { " (dry run)" } else { "" }
        );
        let mut by_kind: BTreeMap<&str, BTreeMap<&'static str, usize>> = BTreeMap::new();
        for i in &self.items {
            *by_kind
                .entry(&i.kind)
                .or_default()
                .entry(outcome_word(i.outcome))
                .or_default() += 1;
        }
        for (kind, counts) in &by_kind {
            let parts: Vec<String> = counts.iter().map(|(o, n)| format!("{n} {o}")).collect();
            let _ = writeln!(s, "  {kind:<20} {}", parts.join(", "));
        }
        let listed: Vec<&Item> = self
            .items
            .iter()
            .filter(|i| matches!(i.outcome, Outcome::Skipped | Outcome::Failed))
            .collect();
        if !listed.is_empty() {
            let _ = writeln!(s, "not taken:");
            for i in listed {
                let _ = writeln!(
                    s,
                    "  {} {} {}: {}",
                    outcome_word(i.outcome),
                    i.kind,
                    i.name,
                    i.detail
                );
            }
        }
        let _ = writeln!(s, "content");
        for (name, r) in &self.repositories {
            let _ = writeln!(
                s,
                "  {name:<24} {:<7} {} components; {} assets copied ({} bytes), {} unchanged, {} derived by Arca{}{}{}",
                r.format,
                r.components,
                r.copied,
                r.bytes,
                r.unchanged,
                r.derived,
                if r.tags > 0 {
                    format!(", {} tags", r.tags)
                } else {
                    String::new()
                },
                if r.deleted_at_source.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} deleted at the source ({} pruned)",
                        r.deleted_at_source.len(),
                        r.pruned
                    )
                },
                if r.failed.is_empty() {
                    String::new()
                } else {
                    format!(", {} FAILED", r.failed.len())
                },
            );
            for f in &r.skipped {
                let _ = writeln!(s, "    skipped: {f}");
            }
            for f in &r.failed {
                let _ = writeln!(s, "    failed: {f}");
            }
        }
        for n in &self.notes {
            let _ = writeln!(s, "note: {n}");
        }
        let _ = writeln!(
            s,
            "{} assets, {} bytes in {:.1} s: {} assets/s, {} MB/s; {} failures",
            self.assets_copied,
            self.bytes_copied,
            self.elapsed_seconds,
            self.assets_per_second,
            self.megabytes_per_second,
            self.failures()
        );
        s
    }
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Created => "created",
        Outcome::Exists => "existing",
        Outcome::WouldCreate => "would create",
        Outcome::Skipped => "skipped",
        Outcome::Failed => "failed",
    }
}
