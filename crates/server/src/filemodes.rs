//! File modes of what holds secrets: the database holds the session-signing secret and password
//! hashes, `admin.password` a password. Arca makes its data directory 0700 and these files 0600
//! whatever the umask; at start it tightens its own files found wider (left by an older Arca)
//! and warns about a data directory it did not create that others can enter (the operator made
//! it so, maybe on purpose: Arca leaves it as it is).

use std::{
    io,
    path::{Path, PathBuf},
};

use crate::Settings;

/// The SQLite database file of `url` and the `-wal`/`-shm` files beside it; none for
/// PostgreSQL or an in-memory database.
fn sqlite_files(url: &str) -> Vec<PathBuf> {
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return vec![];
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" || query.contains("mode=memory") {
        return vec![];
    }
    ["", "-wal", "-shm"]
        .iter()
        .map(|s| PathBuf::from(format!("{path}{s}")))
        .collect()
}

/// Creates the data directory (0700) unless it exists; its parents as usual.
pub(crate) fn create_data_dir(dir: &Path) -> io::Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    match b.create(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Creates an absent SQLite database file 0600 before SQLite does (it would make it 0644 less
/// the umask); SQLite gives the `-wal` and `-shm` files the database file's mode.
pub(crate) fn create_database_file(url: &str) -> io::Result<()> {
    let Some(db) = sqlite_files(url).into_iter().next() else {
        return Ok(());
    };
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(&db) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Tightens Arca's secret-holding files (the SQLite database, its `-wal` and `-shm`,
/// `admin.password`) to 0600 where they are wider, and reports each change and a data
/// directory others can enter. Start-up logs the report as warnings.
pub fn check_modes(settings: &Settings) -> Vec<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut notes = vec![];
        if let Ok(m) = std::fs::metadata(&settings.data_dir)
            && m.permissions().mode() & 0o077 != 0
        {
            notes.push(format!(
                "data_dir {} is open to other users (mode {:o}); it holds the database and \
                 secrets: chmod 700 it",
                settings.data_dir.display(),
                m.permissions().mode() & 0o7777
            ));
        }
        let mut files = sqlite_files(&settings.database_url);
        files.push(settings.data_dir.join("admin.password"));
        for f in files {
            let Ok(m) = std::fs::metadata(&f) else {
                continue;
            };
            let mode = m.permissions().mode() & 0o7777;
            if !m.is_file() || mode & 0o077 == 0 {
                continue;
            }
            match std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o600)) {
                Ok(()) => notes.push(format!(
                    "{} was open to other users (mode {mode:o}): now 0600",
                    f.display()
                )),
                Err(e) => notes.push(format!(
                    "{} is open to other users (mode {mode:o}) and cannot be changed: {e}",
                    f.display()
                )),
            }
        }
        notes
    }
    #[cfg(not(unix))]
    {
        let _ = settings;
        vec![]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls() {
        assert_eq!(
            sqlite_files("sqlite://./data/arca.db?mode=rwc"),
            vec![
                PathBuf::from("./data/arca.db"),
                PathBuf::from("./data/arca.db-wal"),
                PathBuf::from("./data/arca.db-shm")
            ]
        );
        assert_eq!(sqlite_files("sqlite:x.db")[0], PathBuf::from("x.db"));
        assert!(sqlite_files("sqlite::memory:").is_empty());
        assert!(sqlite_files("sqlite://db?mode=memory").is_empty());
        assert!(sqlite_files("postgres://u@h/db").is_empty());
    }
}
