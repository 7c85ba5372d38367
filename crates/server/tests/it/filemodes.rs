//! File modes: the data directory is 0700 and the database (with its -wal/-shm) and
//! admin.password 0600 whatever the umask; at start Arca tightens its own files found wider
//! and reports (does not change) a data directory it did not create that others can enter.
#![cfg(unix)]

use std::{os::unix::fs::PermissionsExt, path::Path};

use arca_testkit::{Backend, TestServer};

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn chmod(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_private() {
    let mut s = TestServer::start(Backend::Sqlite).await;
    let dir = s.data_dir().to_path_buf();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join("arca.db")), 0o600);
    for side in ["arca.db-wal", "arca.db-shm"] {
        if dir.join(side).exists() {
            assert_eq!(mode(&dir.join(side)), 0o600, "{side}");
        }
    }
    assert_eq!(mode(&dir.join("admin.password")), 0o600);
    assert_eq!(mode(&dir.join("blobs")), 0o700);

    // As an older Arca left them: all readable by others.
    s.stop().await;
    chmod(&dir, 0o755);
    chmod(&dir.join("arca.db"), 0o644);
    chmod(&dir.join("admin.password"), 0o644);
    s.restart().await;
    // Arca's own files are tightened; the directory, which the operator may share on
    // purpose, stays as it is and is reported (logged as a warning at start).
    assert_eq!(mode(&dir.join("arca.db")), 0o600);
    assert_eq!(mode(&dir.join("admin.password")), 0o600);
    assert_eq!(mode(&dir), 0o755);
    let settings = arca_server::Settings::for_data_dir(&dir).unwrap();
    let notes = arca_server::check_modes(&settings);
    assert!(
        notes
            .iter()
            .any(|n| n.contains("data_dir") && n.contains("755")),
        "{notes:?}"
    );
    chmod(&dir, 0o700);
    assert!(arca_server::check_modes(&settings).is_empty());
    let r = s
        .admin(
            arca_testkit::reqwest::Method::GET,
            "/service/rest/v1/status/check",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
