//! Configuration: command line > `ARCA_*` environment > `arca.toml` > defaults.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::{Parser, ValueEnum};
use ipnet::IpNet;
use serde::Deserialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// Arca: one binary that hosts, proxies and groups Docker/OCI, Maven, Yum and PyPI repositories.
///
/// Every option can also be set by its ARCA_* environment variable or by its key (the long
/// option name with '_' for '-') in the TOML file given by --config (default ./arca.toml when
/// present). The command line wins over the environment, which wins over the file.
#[derive(Clone, Default, Parser, Deserialize)]
#[command(name = "arca", version, about, long_about)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// TOML configuration file [default: ./arca.toml if it exists]
    #[arg(long, short = 'c', env = "ARCA_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Address and port to listen on [default: 0.0.0.0:8081]
    #[arg(long, env = "ARCA_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,

    /// Directory for the database, blobs and admin.password [default: ./data]
    #[arg(long, env = "ARCA_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Metadata database: sqlite://FILE or postgres://USER:PASS@HOST/DB [default: sqlite://<data_dir>/arca.db]
    #[arg(
        long,
        env = "ARCA_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Directory of the `default` file blob store [default: <data_dir>/blobs]
    #[arg(long, env = "ARCA_BLOB_DIR", value_name = "DIR")]
    pub blob_dir: Option<PathBuf>,

    /// Public base URL (as Nexus's Base URL), used wherever Arca writes its own address [default: from the request]
    #[arg(long, env = "ARCA_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,

    /// Reverse proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-Proto/Host/For are believed [default: none]
    #[arg(
        long,
        env = "ARCA_TRUSTED_PROXIES",
        value_name = "CIDR,...",
        value_delimiter = ','
    )]
    pub trusted_proxies: Option<Vec<String>>,

    /// PEM certificate chain: serve HTTPS instead of HTTP (needs --tls-key)
    #[arg(long, env = "ARCA_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for --tls-cert
    #[arg(long, env = "ARCA_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,

    /// Password for `admin` on first start [default: random, written to <data_dir>/admin.password]
    #[arg(
        long,
        env = "ARCA_ADMIN_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub admin_password: Option<String>,

    /// Whether anonymous users may browse and read, on first start; later changed through the API [default: false]
    #[arg(long, env = "ARCA_ANONYMOUS_ACCESS", value_name = "BOOL")]
    pub anonymous_access: Option<bool>,

    /// Largest request body accepted for an upload, in bytes; 0 = unlimited [default: 0]
    #[arg(long, env = "ARCA_MAX_UPLOAD_BYTES", value_name = "BYTES")]
    pub max_upload_bytes: Option<u64>,

    /// Docker repository serving image names without a repository prefix on the main port (`/v2/library/alpine/...`), e.g. for a registry mirror
    #[arg(long, env = "ARCA_DOCKER_DEFAULT_REPOSITORY", value_name = "NAME")]
    pub docker_default_repository: Option<String>,

    /// Log format [default: human]
    #[arg(long, env = "ARCA_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Log filter, in tracing's EnvFilter syntax [default: info]
    #[arg(long, env = "ARCA_LOG", value_name = "FILTER")]
    pub log: Option<String>,

    /// HTTP worker threads [default: number of CPUs]
    #[arg(long, env = "ARCA_WORKERS", value_name = "N")]
    pub workers: Option<usize>,

    /// Seconds in-flight requests get to finish on SIGTERM before they are abandoned [default: 30]
    #[arg(long, env = "ARCA_SHUTDOWN_TIMEOUT", value_name = "SECS")]
    pub shutdown_timeout: Option<u64>,

    /// Seconds an unreferenced blob is kept before the sweeper frees it [default: 60]
    #[arg(long, env = "ARCA_GC_GRACE", value_name = "SECS")]
    pub gc_grace: Option<u64>,

    /// Seconds a blob file with no database record (left by a crash during an upload) or a temp file is kept before the blob GC's orphan sweep frees it [default: 3600]
    #[arg(long, env = "ARCA_ORPHAN_GRACE", value_name = "SECS")]
    pub orphan_grace: Option<u64>,

    /// Directory of file blob stores created through the REST API: relative paths resolve under it and, when set, absolute paths must lie inside it [default: <data_dir>/blobstores, absolute paths anywhere]
    #[arg(long, env = "ARCA_BLOB_STORE_ROOT", value_name = "DIR")]
    pub blob_store_root: Option<PathBuf>,
}

/// A configuration error, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {message}")]
    Key { key: &'static str, message: String },
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

fn key_err(key: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        key,
        message: message.into(),
    }
}

/// Resolved, validated settings. No `Debug`: it holds the admin password and database URL.
#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub blob_dir: PathBuf,
    pub base_url: Option<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub admin_password: Option<String>,
    pub anonymous_access: bool,
    pub max_upload_bytes: Option<u64>,
    pub docker_default_repository: Option<String>,
    pub log_format: LogFormat,
    pub log: String,
    pub workers: Option<usize>,
    pub shutdown_timeout: Duration,
    pub gc_grace: Duration,
    pub orphan_grace: Duration,
    /// Where relative file blob store paths go; `confine_blob_stores` when configured.
    pub blob_store_root: PathBuf,
    pub confine_blob_stores: bool,
}

macro_rules! merge {
    ($into:expr, $from:expr, $($f:ident),*) => { $( if $into.$f.is_none() { $into.$f = $from.$f.take(); } )* };
}

impl Config {
    /// Fills options not given on the command line or in the environment from the TOML file.
    pub fn with_file(mut self) -> Result<Self, ConfigError> {
        let (path, required) = match &self.config {
            Some(p) => (p.clone(), true),
            None => (PathBuf::from("arca.toml"), false),
        };
        if !required && !path.exists() {
            return Ok(self);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut file: Config = toml::from_str(&text).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        merge!(
            self,
            file,
            listen,
            data_dir,
            database_url,
            blob_dir,
            base_url,
            trusted_proxies,
            tls_cert,
            tls_key,
            admin_password,
            anonymous_access,
            max_upload_bytes,
            docker_default_repository,
            log_format,
            log,
            workers,
            shutdown_timeout,
            gc_grace,
            orphan_grace,
            blob_store_root
        );
        Ok(self)
    }

    /// Applies defaults and checks every value.
    pub fn resolve(self) -> Result<Settings, ConfigError> {
        let listen_s = self.listen.unwrap_or_else(|| "0.0.0.0:8081".into());
        let listen: SocketAddr = listen_s.parse().map_err(|_| {
            key_err(
                "listen",
                format!("{listen_s:?} is not an address:port such as 0.0.0.0:8081"),
            )
        })?;
        let data_dir = self.data_dir.unwrap_or_else(|| PathBuf::from("data"));
        if data_dir.as_os_str().is_empty() {
            return Err(key_err("data_dir", "must not be empty"));
        }
        let database_url = match self.database_url {
            Some(u)
                if u.starts_with("sqlite:")
                    || u.starts_with("postgres://")
                    || u.starts_with("postgresql://") =>
            {
                u
            }
            Some(u) => {
                let scheme = u.split(':').next().unwrap_or_default().to_owned();
                return Err(key_err(
                    "database_url",
                    format!("unsupported scheme {scheme:?}: use sqlite://FILE or postgres://..."),
                ));
            }
            None => format!("sqlite://{}", data_dir.join("arca.db").display()),
        };
        let blob_dir = self.blob_dir.unwrap_or_else(|| data_dir.join("blobs"));
        let confine_blob_stores = self.blob_store_root.is_some();
        let blob_store_root = match self.blob_store_root {
            Some(r) if !r.is_absolute() => {
                return Err(key_err(
                    "blob_store_root",
                    format!("{} is not an absolute path", r.display()),
                ));
            }
            Some(r) => r,
            None => data_dir.join("blobstores"),
        };
        let base_url = match self.base_url {
            Some(b) => {
                let u = url::Url::parse(&b)
                    .map_err(|e| key_err("base_url", format!("{b:?} is not a URL: {e}")))?;
                if !matches!(u.scheme(), "http" | "https") || u.host().is_none() {
                    return Err(key_err(
                        "base_url",
                        format!("{b:?} must be an http(s) URL with a host"),
                    ));
                }
                Some(b.trim_end_matches('/').to_owned())
            }
            None => None,
        };
        let trusted_proxies = self
            .trusted_proxies
            .unwrap_or_default()
            .into_iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                let s = s.trim();
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        key_err(
                            "trusted_proxies",
                            format!("{s:?} is not an IP address or CIDR"),
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(c), Some(k)) => {
                for (key, p) in [("tls_cert", &c), ("tls_key", &k)] {
                    if !p.is_file() {
                        return Err(key_err(
                            key,
                            format!("{} is not a readable file", p.display()),
                        ));
                    }
                }
                Some((c, k))
            }
            (None, None) => None,
            (Some(_), None) => return Err(key_err("tls_key", "required when tls_cert is set")),
            (None, Some(_)) => return Err(key_err("tls_cert", "required when tls_key is set")),
        };
        if self.admin_password.as_deref().is_some_and(|p| p.len() < 8) {
            return Err(key_err("admin_password", "must be at least 8 characters"));
        }
        if self.workers == Some(0) {
            return Err(key_err("workers", "must be at least 1"));
        }
        let log = self.log.unwrap_or_else(|| "info".into());
        tracing_subscriber::EnvFilter::try_new(&log)
            .map_err(|e| key_err("log", format!("{log:?}: {e}")))?;
        Ok(Settings {
            listen,
            data_dir,
            database_url,
            blob_dir,
            base_url,
            trusted_proxies,
            tls,
            admin_password: self.admin_password,
            anonymous_access: self.anonymous_access.unwrap_or(false),
            max_upload_bytes: self.max_upload_bytes.filter(|n| *n > 0),
            docker_default_repository: self.docker_default_repository.filter(|s| !s.is_empty()),
            log_format: self.log_format.unwrap_or_default(),
            log,
            workers: self.workers,
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout.unwrap_or(30)),
            gc_grace: Duration::from_secs(self.gc_grace.unwrap_or(60)),
            orphan_grace: Duration::from_secs(self.orphan_grace.unwrap_or(3600)),
            blob_store_root,
            confine_blob_stores,
        })
    }
}

impl Settings {
    /// Settings for a server rooted at `data_dir`, everything else default: for tests and tools.
    pub fn for_data_dir(data_dir: &Path) -> Result<Self, ConfigError> {
        Config {
            data_dir: Some(data_dir.to_path_buf()),
            listen: Some("127.0.0.1:0".into()),
            ..Default::default()
        }
        .resolve()
    }
}
