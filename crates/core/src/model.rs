//! The repository model: validated names and paths, repositories, components, assets.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ValidationError {
    #[error(
        "invalid repository name {0:?}: use letters, digits, '-', '_' and '.', starting with a letter, digit or '-' (at most 200 characters)"
    )]
    RepoName(String),
    #[error("invalid path {0:?}: {1}")]
    Path(String, &'static str),
    #[error("invalid digest {0:?}: expected sha256:<64 lowercase hex digits>")]
    Digest(String),
}

/// A repository name as Nexus accepts it: `^[a-zA-Z0-9\-]{1}[a-zA-Z0-9_\-\.]*$`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RepoName(String);

impl RepoName {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let mut chars = s.chars();
        let first_ok = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-');
        let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if first_ok && rest_ok && s.len() <= 200 {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::RepoName(s.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A path inside a repository: relative, `/`-separated, without empty, `.` or `..` segments,
/// NUL, backslashes or control characters. A trailing `/` (a directory) is kept apart.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AssetPath(String);

impl AssetPath {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let err = |why| Err(ValidationError::Path(s.to_owned(), why));
        if s.is_empty() {
            return err("empty");
        }
        if s.len() > 4096 {
            return err("longer than 4096 bytes");
        }
        if s.starts_with('/') {
            return err("starts with '/'");
        }
        if s.chars().any(|c| c.is_control() || c == '\\') {
            return err("holds a control character or a backslash");
        }
        let trimmed = s.strip_suffix('/').unwrap_or(s);
        for seg in trimmed.split('/') {
            match seg {
                "" => return err("holds an empty segment"),
                "." | ".." => return err("holds a '.' or '..' segment"),
                _ => {}
            }
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_dir(&self) -> bool {
        self.0.ends_with('/')
    }
    /// The last segment, e.g. the file name.
    pub fn file_name(&self) -> &str {
        let t = self.0.strip_suffix('/').unwrap_or(&self.0);
        t.rsplit('/').next().unwrap_or(t)
    }
}

impl fmt::Display for AssetPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SHA-256 content digest, printed `sha256:<hex>` as OCI does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }
    /// Accepts `sha256:<hex>` or bare lowercase hex.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let hex_part = s.strip_prefix("sha256:").unwrap_or(s);
        if hex_part.len() != 64 || hex_part.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ValidationError::Digest(s.to_owned()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out)
            .map_err(|_| ValidationError::Digest(s.to_owned()))?;
        Ok(Self(out))
    }
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn of(data: &[u8]) -> Self {
        use sha2::Digest as _;
        Self(sha2::Sha256::digest(data).into())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RepoKind {
    Hosted,
    Proxy,
    Group,
}

impl RepoKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hosted => "hosted",
            Self::Proxy => "proxy",
            Self::Group => "group",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hosted" => Some(Self::Hosted),
            "proxy" => Some(Self::Proxy),
            "group" => Some(Self::Group),
            _ => None,
        }
    }
}

/// Nexus's write policies for hosted repositories.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WritePolicy {
    Allow,
    AllowOnce,
    Deny,
}

impl WritePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "ALLOW",
            Self::AllowOnce => "ALLOW_ONCE",
            Self::Deny => "DENY",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "ALLOW" => Some(Self::Allow),
            "ALLOW_ONCE" => Some(Self::AllowOnce),
            "DENY" => Some(Self::Deny),
            _ => None,
        }
    }
}

/// A repository as stored. `attrs` holds the Nexus-shaped settings that only the format reads
/// (e.g. `maven`, `proxy`, `negativeCache`), so a new format needs no schema change.
#[derive(Clone, Debug, Serialize)]
pub struct Repository {
    pub id: i64,
    pub name: RepoName,
    /// The Nexus format id: `maven2`, `pypi`, `docker`, `yum`, `raw`.
    pub format: String,
    pub kind: RepoKind,
    pub online: bool,
    pub blob_store: String,
    pub write_policy: Option<WritePolicy>,
    pub strict_content_type_validation: bool,
    /// Group members in order (group repositories only).
    pub members: Vec<String>,
    pub attrs: serde_json::Value,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Everything needed to create or update a repository.
#[derive(Clone, Debug)]
pub struct RepositorySpec {
    pub name: RepoName,
    pub format: String,
    pub kind: RepoKind,
    pub online: bool,
    pub blob_store: String,
    pub write_policy: Option<WritePolicy>,
    pub strict_content_type_validation: bool,
    pub members: Vec<String>,
    pub attrs: serde_json::Value,
}

impl RepositorySpec {
    /// Checks that the string setting `<block>.<field>`, when given, is one of `allowed`.
    pub fn check_choice(&self, block: &str, field: &str, allowed: &[&str]) -> Result<(), String> {
        match self
            .attrs
            .get(block)
            .and_then(|b| b.get(field))
            .and_then(|v| v.as_str())
        {
            Some(v) if !allowed.contains(&v) => Err(format!(
                "{block}.{field} must be {}, not {v:?}",
                allowed.join(" or ")
            )),
            _ => Ok(()),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Component {
    pub id: i64,
    pub repository: String,
    pub namespace: String,
    pub name: String,
    pub version: String,
    pub attrs: serde_json::Value,
    pub created_ms: i64,
}

/// Checksums that clients of every format ask for.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Checksums {
    pub sha256: String,
    pub sha1: String,
    pub md5: String,
    pub sha512: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Asset {
    pub id: i64,
    pub repository: String,
    pub component_id: Option<i64>,
    pub path: String,
    pub blob_digest: String,
    pub blob_store: String,
    pub size: i64,
    pub content_type: String,
    pub checksums: Checksums,
    pub created_ms: i64,
    pub last_modified_ms: i64,
    pub last_verified_ms: i64,
    pub last_downloaded_ms: Option<i64>,
    pub uploader: Option<String>,
    pub uploader_ip: Option<String>,
    pub attrs: serde_json::Value,
}

/// UTC `(year, month, day, hour, minute, second)` of unix milliseconds (civil-from-days).
pub fn utc_parts(ms: i64) -> (i64, i64, i64, i64, i64, i64) {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names() {
        for ok in ["maven-releases", "a", "-x", "a.b_c", "X9"] {
            assert!(RepoName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "_a", ".a", "a/b", "a b", "ä", &"x".repeat(201)] {
            assert!(RepoName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn asset_paths() {
        for ok in ["a", "a/b/c.jar", "dir/", "a/.hidden", "a..b"] {
            assert!(AssetPath::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "/a", "a/../b", "..", "a//b", "./a", "a\0b", "a\\b", "a/./b",
        ] {
            assert!(AssetPath::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(AssetPath::parse("a/b/c.jar").unwrap().file_name(), "c.jar");
    }

    #[test]
    fn digests() {
        let d = Digest::of(b"hello");
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert_eq!(Digest::parse(&d.hex()).unwrap(), d);
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(&d.hex().to_uppercase()).is_err());
    }
}
