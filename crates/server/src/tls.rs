//! The HTTPS listener's rustls configuration (ring provider: no C toolchain beyond cc).

use std::{fs::File, io::BufReader, path::Path, sync::Arc};

use anyhow::{Context, anyhow};

pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<rustls::ServerConfig> {
    let certs = rustls_pemfile::certs(&mut BufReader::new(
        File::open(cert).with_context(|| format!("tls_cert: cannot open {}", cert.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("tls_cert: {} is not PEM", cert.display()))?;
    if certs.is_empty() {
        return Err(anyhow!("tls_cert: no certificate in {}", cert.display()));
    }
    let key = rustls_pemfile::private_key(&mut BufReader::new(
        File::open(key).with_context(|| format!("tls_key: cannot open {}", key.display()))?,
    ))
    .with_context(|| format!("tls_key: {} is not PEM", key.display()))?
    .ok_or_else(|| anyhow!("tls_key: no private key in {}", key.display()))?;
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("tls_cert/tls_key: certificate and key do not match")
}
