//! HTTP pieces every format needs: the external base URL, serving blobs with ranges and
//! validators, and bridging actix's request body to a `Send` byte stream.

use std::net::IpAddr;

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use futures_util::StreamExt;
use ipnet::IpNet;

use crate::{
    blob::{BlobBody, ByteRange, ByteStream},
    model::Asset,
};

/// How the server learns its own public address.
#[derive(Clone, Debug, Default)]
pub struct PublicUrl {
    /// Nexus's "Base URL": when set, always used.
    pub base_url: Option<String>,
    /// Peers whose `X-Forwarded-Proto/Host` (or `Forwarded`) headers are believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Whether the listener itself speaks TLS.
    pub tls: bool,
}

impl PublicUrl {
    /// The base URL for links in a response to `req`, without a trailing slash.
    pub fn for_request(&self, req: &HttpRequest) -> String {
        if let Some(b) = &self.base_url {
            return b.trim_end_matches('/').to_owned();
        }
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.split(',').next().unwrap_or("").trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let peer: Option<IpAddr> = req.peer_addr().map(|a| a.ip());
        let trusted = peer.is_some_and(|ip| self.trusted_proxies.iter().any(|n| n.contains(&ip)));
        let own_scheme = if self.tls { "https" } else { "http" };
        let host = header("host").unwrap_or_else(|| "localhost:8081".into());
        if trusted {
            let scheme = header("x-forwarded-proto").unwrap_or_else(|| own_scheme.into());
            let host = header("x-forwarded-host").unwrap_or(host);
            let prefix = header("x-forwarded-prefix").unwrap_or_default();
            return format!("{scheme}://{host}{}", prefix.trim_end_matches('/'));
        }
        format!("{own_scheme}://{host}")
    }
}

/// The caller's address: the first `X-Forwarded-For` hop when the peer is a trusted proxy.
pub fn remote_ip(req: &HttpRequest, public: &PublicUrl) -> Option<String> {
    let peer = req.peer_addr().map(|a| a.ip())?;
    if public.trusted_proxies.iter().any(|n| n.contains(&peer))
        && let Some(f) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        && let Some(first) = f.split(',').next()
    {
        return Some(first.trim().to_owned());
    }
    Some(peer.to_string())
}

/// actix's `Payload` is `!Send`; forward it through a channel so blob stores (and spawned tasks)
/// get a `Send` stream. The channel is small, so memory stays flat and backpressure holds.
pub fn payload_stream(payload: web::Payload) -> ByteStream {
    local_stream(payload)
}

/// The same for any body stream living on this worker (a multipart field, say).
pub fn local_stream<S, E>(mut body: S) -> ByteStream
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin + 'static,
    E: std::fmt::Display,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(4);
    actix_web::rt::spawn(async move {
        while let Some(chunk) = body.next().await {
            let item = chunk
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e.to_string()));
            let stop = item.is_err();
            if tx.send(item).await.is_err() || stop {
                break;
            }
        }
    });
    tokio_stream_from(rx)
}

fn tokio_stream_from(rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>) -> ByteStream {
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

/// Parts a multipart upload form may have: each costs memory kept until the form ends.
pub const MAX_FORM_PARTS: usize = 1000;

/// Whether the request's path, percent-decoded, is UTF-8. Path parameters are decoded lossily
/// (U+FFFD for bad bytes), so two different names would otherwise meet in one asset.
pub fn path_is_utf8(req: &HttpRequest) -> bool {
    let raw = req.uri().path().as_bytes();
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if raw[i] == b'%'
            && let (Some(h), Some(l)) = (
                raw.get(i + 1).copied().and_then(hex),
                raw.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    std::str::from_utf8(&out).is_ok()
}

/// The `Range` header of a request, if it asks for one byte range.
pub fn requested_range(req: &HttpRequest) -> Option<ByteRange> {
    req.headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(ByteRange::parse_header)
}

fn http_date(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    header::HttpDate::from(t).to_string()
}

/// Answers a conditional GET from an asset's validators, before any bytes are read.
pub fn not_modified(req: &HttpRequest, asset: &Asset) -> Option<HttpResponse> {
    let etag = format!("\"{}\"", asset.checksums.sha256);
    let inm = req.headers().get(header::IF_NONE_MATCH)?.to_str().ok()?;
    (inm == "*" || inm.split(',').any(|t| t.trim() == etag)).then(|| {
        HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish()
    })
}

/// A response that streams a blob: 200 or 206 with `Content-Range`, validators, and no body
/// for HEAD.
pub fn blob_response(req: &HttpRequest, asset: &Asset, body: BlobBody) -> HttpResponse {
    let mut b = HttpResponse::build(if body.range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    });
    b.insert_header((header::CONTENT_TYPE, asset.content_type.as_str()))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::ETAG, format!("\"{}\"", asset.checksums.sha256)))
        .insert_header((header::LAST_MODIFIED, http_date(asset.last_modified_ms)));
    if let Some((a, z)) = body.range {
        b.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {a}-{z}/{}", body.size),
        ));
    }
    let len = body.len();
    b.no_chunking(len);
    if req.method() == actix_web::http::Method::HEAD {
        // Keep the real length for HEAD; actix sends no body.
        return b.body(actix_web::body::SizedStream::new(
            len,
            futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>(),
        ));
    }
    b.body(actix_web::body::SizedStream::new(len, body.stream))
}

/// A proxy's file on its way from the remote (see [`crate::proxy::Proxy::fetch_stream`]): 200
/// with the remote's type and length (chunked without one); the validators come once it is
/// cached. A HEAD gets the headers, and the caching goes on.
pub fn remote_response(req: &HttpRequest, remote: crate::proxy::RemoteBody) -> HttpResponse {
    let mut b = HttpResponse::Ok();
    b.insert_header((header::CONTENT_TYPE, remote.content_type.as_str()));
    let head = req.method() == actix_web::http::Method::HEAD;
    match remote.size {
        Some(n) => {
            b.no_chunking(n);
            if head {
                return b.body(actix_web::body::SizedStream::new(
                    n,
                    futures_util::stream::empty::<Result<bytes::Bytes, std::io::Error>>(),
                ));
            }
            b.body(actix_web::body::SizedStream::new(n, remote.body))
        }
        None if head => b.finish(),
        None => b.streaming(remote.body),
    }
}

/// 416 with the size, as RFC 9110 asks.
pub fn range_not_satisfiable(size: u64) -> HttpResponse {
    HttpResponse::RangeNotSatisfiable()
        .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
        .finish()
}

/// A plain-text response: how Maven, PyPI and raw clients expect errors.
pub fn text(status: StatusCode, msg: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(msg.into())
}

/// An error as plain text with its status; server-side failures are logged once, here.
pub fn error_text(e: &dyn crate::error::HttpError) -> HttpResponse {
    crate::error::log_if_server_error(e);
    text(e.status(), e.to_string())
}

/// A storage error as plain text; an unsatisfiable range gets RFC 9110's 416.
pub fn storage_error(e: crate::storage::StorageError) -> HttpResponse {
    match e {
        crate::storage::StorageError::Blob(crate::blob::BlobError::RangeNotSatisfiable {
            size,
        }) => range_not_satisfiable(size),
        e => error_text(&e),
    }
}
