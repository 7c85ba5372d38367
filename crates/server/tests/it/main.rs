//! Integration tests against a real server (SQLite and PostgreSQL): one binary, many modules.
#![allow(clippy::unwrap_used)]

mod auth;
mod authz;
mod blobs;
mod blobstores;
mod cleanup;
mod components;
mod config;
mod deploy;
mod docker;
mod docker_gc;
mod filemodes;
mod hostile;
mod import_progress;
mod locks;
mod maven;
mod nesting;
mod nexus_admin;
mod nexus_surface;
mod oci;
mod openapi;
mod privileges;
mod proxy;
mod pypi;
mod repositories;
mod restart;
mod s3;
mod schema;
mod search_index;
mod shared_stores;
mod status;
mod system;
mod tasks;
mod users;
mod yum;

use arca_testkit::reqwest::{Method, Response};
use serde_json::Value;

pub async fn json(r: Response) -> Value {
    let status = r.status();
    let text = r.text().await.expect("body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"))
}

/// Sends `body` as JSON to `/service/rest/v1{path}` as admin; the status and the body text.
pub async fn rest(
    s: &arca_testkit::TestServer,
    m: Method,
    path: &str,
    body: Value,
) -> (u16, String) {
    let r = s
        .admin(m, &format!("/service/rest/v1{path}"))
        .json(&body)
        .send()
        .await
        .expect("request");
    (r.status().as_u16(), r.text().await.expect("body"))
}

pub const GET: Method = Method::GET;
pub const PUT: Method = Method::PUT;
pub const POST: Method = Method::POST;
pub const DELETE: Method = Method::DELETE;

/// Sends `head` (request line and headers, each ending in CRLF; Host and admin credentials are
/// added) and `body` exactly as given, half-closes, and returns the status (0 if none came).
pub async fn raw_request(s: &arca_testkit::TestServer, head: &str, body: &[u8]) -> u16 {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.url.trim_start_matches("http://").to_owned();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("admin:{}", s.admin_password));
    let req =
        format!("{head}Host: {addr}\r\nAuthorization: Basic {auth}\r\nConnection: close\r\n\r\n");
    sock.write_all(req.as_bytes()).await.unwrap();
    sock.write_all(body).await.unwrap();
    sock.shutdown().await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        sock.read_to_end(&mut buf),
    )
    .await;
    let text = String::from_utf8_lossy(&buf);
    text.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// A form field: name, file name (for a file part) and content.
pub type Part = (&'static str, Option<&'static str>, &'static [u8]);

/// A `multipart/form-data` body of `parts`, with its content type.
pub fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let bnd = "arca-test-form-boundary";
    let mut body = Vec::new();
    for (name, file, data) in parts {
        let disp = match file {
            Some(f) => format!("form-data; name=\"{name}\"; filename=\"{f}\""),
            None => format!("form-data; name=\"{name}\""),
        };
        body.extend_from_slice(
            format!("--{bnd}\r\nContent-Disposition: {disp}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{bnd}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={bnd}"), body)
}
