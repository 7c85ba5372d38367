//! Configuration: precedence, defaults, and errors that name the key.

use std::process::Command;

use arca_server::Config;

fn resolve_err(c: Config) -> String {
    match c.resolve() {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn defaults_need_nothing() {
    let s = Config::default().resolve().unwrap();
    assert_eq!(s.listen.to_string(), "0.0.0.0:8081");
    assert_eq!(s.data_dir, std::path::PathBuf::from("data"));
    assert_eq!(s.database_url, "sqlite://data/arca.db");
    assert_eq!(s.blob_dir, std::path::PathBuf::from("data/blobs"));
    assert!(!s.anonymous_access);
    assert!(s.tls.is_none());
}

#[test]
fn bad_values_name_their_key() {
    let c = |f: fn(&mut Config)| {
        let mut c = Config::default();
        f(&mut c);
        resolve_err(c)
    };
    assert!(c(|c| c.listen = Some("8081".into())).starts_with("listen:"));
    assert!(c(|c| c.database_url = Some("mysql://x".into())).starts_with("database_url:"));
    assert!(c(|c| c.base_url = Some("not a url".into())).starts_with("base_url:"));
    assert!(c(|c| c.base_url = Some("ftp://x".into())).starts_with("base_url:"));
    assert!(
        c(|c| c.trusted_proxies = Some(vec!["10.0.0.0/33".into()])).starts_with("trusted_proxies:")
    );
    assert!(c(|c| c.tls_cert = Some("/nonexistent".into())).starts_with("tls_key:"));
    assert!(
        c(|c| {
            c.tls_cert = Some("/nonexistent".into());
            c.tls_key = Some("/nonexistent".into());
        })
        .starts_with("tls_cert:")
    );
    assert!(c(|c| c.admin_password = Some("short".into())).starts_with("admin_password:"));
    assert!(c(|c| c.workers = Some(0)).starts_with("workers:"));
    assert!(c(|c| c.log = Some("[[[".into())).starts_with("log:"));
}

fn arca() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_arca"));
    for (k, _) in std::env::vars() {
        if k.starts_with("ARCA_") {
            c.env_remove(k);
        }
    }
    c
}

#[test]
fn toml_file_and_precedence() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("arca.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:1\"\ndata_dir = \"/from-file\"\nworkers = 3\n",
    )
    .unwrap();
    let mut c = Config {
        config: Some(file.clone()),
        listen: Some("127.0.0.1:2".into()),
        ..Default::default()
    }
    .with_file()
    .unwrap();
    c.database_url = None;
    let s = c.resolve().unwrap();
    assert_eq!(
        s.listen.to_string(),
        "127.0.0.1:2",
        "command line/env beats the file"
    );
    assert_eq!(s.data_dir, std::path::PathBuf::from("/from-file"));
    assert_eq!(s.workers, Some(3));

    // Unknown keys and wrong types are refused with the key and line.
    std::fs::write(&file, "listen = \"127.0.0.1:1\"\nlisten_port = 9\n").unwrap();
    let out = arca().arg("--config").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("listen_port") && err.contains("line 2"),
        "{err}"
    );
    std::fs::write(&file, "workers = \"many\"\n").unwrap();
    let out = arca().arg("--config").arg(&file).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("workers"), "{err}");
}

#[test]
fn binary_reports_config_errors() {
    let out = arca().env("ARCA_LISTEN", "nowhere").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("configuration error: listen:"), "{err}");
    let out = arca()
        .env("ARCA_MAX_UPLOAD_BYTES", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max-upload-bytes"));
    let out = arca()
        .arg("--config")
        .arg("/nonexistent/arca.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // --help documents every option with its environment variable.
    let help = String::from_utf8_lossy(&arca().arg("--help").output().unwrap().stdout).to_string();
    for env in [
        "ARCA_LISTEN",
        "ARCA_DATA_DIR",
        "ARCA_DATABASE_URL",
        "ARCA_BASE_URL",
        "ARCA_TLS_CERT",
        "ARCA_TRUSTED_PROXIES",
        "ARCA_ADMIN_PASSWORD",
        "ARCA_ANONYMOUS_ACCESS",
        "ARCA_LOG_FORMAT",
        "ARCA_MAX_UPLOAD_BYTES",
    ] {
        assert!(help.contains(env), "{env} missing from --help");
    }
}
