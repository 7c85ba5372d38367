//! `arca import nexus`: copies a running Nexus 3 into a running Arca (issue 20).
//!
//! Both ends are spoken to over HTTP only: the source through Nexus's REST API and repository
//! URLs, the target through Arca's, which are the same. Content therefore goes through the
//! target's own upload paths (a PUT to `/repository/<name>/<path>`, the twine upload API, the
//! registry API under `/v2/`), so components, Maven metadata, yum repodata and PyPI indexes are
//! derived exactly as for clients, nothing writes to the target's database beside it, and the
//! target may be a cluster. The source may be another Arca, which is how this is tested.

mod caches;
mod content;
mod docker;
mod http;
mod npm;
mod report;
mod settings;
mod state;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};

pub use http::Endpoint;
pub use report::Report;
pub use state::Progress;

/// What went wrong talking to one end or handling local files.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{what}: {source}")]
    Http {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{method} {url}: HTTP {status}: {body}")]
    Status {
        method: String,
        url: String,
        status: u16,
        body: String,
    },
    #[error("checksum mismatch for {path}: {detail}")]
    Checksum { path: String, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl ImportError {
    /// The HTTP status of an answer the other end gave, if that is what this is.
    pub fn status(&self) -> Option<u16> {
        match self {
            ImportError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

pub type Result<T, E = ImportError> = std::result::Result<T, E>;

#[derive(Parser, Debug)]
#[command(
    name = "arca import",
    bin_name = "arca import",
    about = "Copy another repository manager into a running Arca"
)]
pub struct ImportCli {
    #[command(subcommand)]
    pub command: ImportCommand,
}

#[derive(Subcommand, Debug)]
pub enum ImportCommand {
    /// Copy a running Nexus 3 (or another Arca) into a running Arca through their REST APIs.
    Nexus(NexusArgs),
}

/// The parts of an import `--only` can select; all of them by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Part {
    Blobstores,
    Cleanup,
    Selectors,
    Repositories,
    Privileges,
    Roles,
    Users,
    Anonymous,
    Content,
}

/// How the source serves a docker repository's registry API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DockerPaths {
    /// `/repository/<name>/v2/<image>/…` (Nexus's path-based routing).
    Repository,
    /// `/v2/<name>/<image>/…` (Arca's, the first path segment names the repository).
    Prefix,
}

#[derive(clap::Args, Debug, Clone)]
pub struct NexusArgs {
    /// Base URL of the source Nexus (or Arca), e.g. https://nexus.example.com
    #[arg(long, env = "ARCA_IMPORT_URL")]
    pub url: url::Url,
    /// A user of the source that may read everything (an administrator).
    #[arg(long, env = "ARCA_IMPORT_USER", default_value = "admin")]
    pub user: String,
    /// File holding the source user's password (first line).
    #[arg(long, env = "ARCA_IMPORT_PASSWORD_FILE")]
    pub password_file: PathBuf,
    /// Base URL of the target Arca.
    #[arg(
        long,
        env = "ARCA_IMPORT_TARGET_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub target_url: url::Url,
    /// An administrator of the target.
    #[arg(long, env = "ARCA_IMPORT_TARGET_USER", default_value = "admin")]
    pub target_user: String,
    /// File holding the target user's password or API token (first line).
    #[arg(long, env = "ARCA_IMPORT_TARGET_PASSWORD_FILE")]
    pub target_password_file: PathBuf,
    /// Only these parts (comma-separated); everything by default.
    #[arg(long, value_delimiter = ',', env = "ARCA_IMPORT_ONLY")]
    pub only: Vec<Part>,
    /// Only these repositories (comma-separated names), for settings and content.
    #[arg(long, value_delimiter = ',', env = "ARCA_IMPORT_REPOSITORIES")]
    pub repositories: Vec<String>,
    /// Read the source and report what would be done; write nothing to the target.
    #[arg(long, env = "ARCA_IMPORT_DRY_RUN")]
    pub dry_run: bool,
    /// Assets (or docker images) in flight at once.
    #[arg(long, default_value_t = 4, env = "ARCA_IMPORT_JOBS")]
    pub jobs: usize,
    /// Write the report as JSON here too.
    #[arg(long, env = "ARCA_IMPORT_REPORT")]
    pub report: Option<PathBuf>,
    /// Where the random passwords of imported users go (created with mode 0600).
    #[arg(
        long,
        default_value = "arca-import-users.txt",
        env = "ARCA_IMPORT_USERS_PASSWORD_FILE"
    )]
    pub users_password_file: PathBuf,
    /// How the source serves docker repositories under /v2/.
    #[arg(
        long,
        value_enum,
        default_value = "repository",
        env = "ARCA_IMPORT_DOCKER_PATHS"
    )]
    pub docker_paths: DockerPaths,
    /// Also fill the target's proxy repositories with what the source's proxies have cached,
    /// fetched through the target from the same remotes (off by default: caches refill).
    #[arg(long, env = "ARCA_IMPORT_PROXY_CACHES")]
    pub proxy_caches: bool,
    /// Delete from the target what an earlier run imported and the source no longer has (only
    /// when the target still holds the very content imported).
    #[arg(long, env = "ARCA_IMPORT_PRUNE")]
    pub prune: bool,
}

impl NexusArgs {
    fn wants(&self, p: Part) -> bool {
        self.only.is_empty() || self.only.contains(&p)
    }
    fn wants_repo(&self, name: &str) -> bool {
        self.repositories.is_empty() || self.repositories.iter().any(|r| r == name)
    }
}

fn read_secret(path: &PathBuf) -> Result<String> {
    let s = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let line = s.lines().next().unwrap_or("").trim().to_owned();
    if line.is_empty() {
        return Err(ImportError::Invalid(format!("{} is empty", path.display())));
    }
    Ok(line)
}

/// Entry point of `arca import …` (the arguments after `arca`). Exit code 0 when everything
/// was copied, 1 when some items failed (see the report), 2 for a usage or set-up error.
pub async fn main_from_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match ImportCli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let ImportCommand::Nexus(args) = cli.command;
    match run(args).await {
        Ok(report) if report.failures() == 0 => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("arca import: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs one import: settings in dependency order, then hosted content. Prints the text report
/// and writes the JSON one; the report is returned for callers and tests.
pub async fn run(args: NexusArgs) -> Result<Report> {
    let started = Instant::now();
    let source = Endpoint::new(
        args.url.clone(),
        args.user.clone(),
        read_secret(&args.password_file)?,
    )?;
    let target = Endpoint::new(
        args.target_url.clone(),
        args.target_user.clone(),
        read_secret(&args.target_password_file)?,
    )?;
    // Both ends must answer as Nexus's API before anything is written.
    source
        .get_json::<serde_json::Value>("/service/rest/v1/repositories")
        .await?;
    target
        .get_json::<serde_json::Value>("/service/rest/v1/repositories")
        .await?;

    // What earlier runs copied lives in the target's database: it must keep it.
    let progress = Progress::new(&target, &args.url);
    progress.check().await?;
    let report = Arc::new(report::Collector::new(args.dry_run));
    let ctx = settings::Ctx {
        source: &source,
        target: &target,
        args: &args,
        report: &report,
    };
    let repos = settings::import_all(&ctx).await?;
    if args.wants(Part::Content) {
        content::import_content(&ctx, &repos, &progress).await?;
    }
    let report = report.finish(started.elapsed());
    print!("{}", report.text());
    if let Some(p) = &args.report {
        let json = serde_json::to_vec_pretty(&report)
            .map_err(|e| ImportError::Invalid(format!("report: {e}")))?;
        std::fs::write(p, json).map_err(|source| ImportError::Io {
            path: p.display().to_string(),
            source,
        })?;
    }
    Ok(report)
}
