//! One end of an import: a base URL, credentials and a client.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::{ImportError, Result};

#[derive(Clone)]
pub struct Endpoint {
    base: url::Url,
    user: String,
    password: String,
    pub(crate) http: reqwest::Client,
}

impl std::fmt::Debug for Endpoint {
    // Never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Endpoint({} as {})", self.base, self.user)
    }
}

/// The most a JSON answer (a listing page, a repository's settings) may hold.
pub const JSON_LIMIT: usize = 32 * 1024 * 1024;
/// How much of an error answer's body is kept for the message.
const ERROR_BODY_LIMIT: usize = 4 * 1024;

impl Endpoint {
    /// Refuses a URL carrying credentials (`https://user:pass@host`): they would be written
    /// into logs and reports; they belong in `--user` and the password file.
    pub fn new(base: url::Url, user: String, password: String) -> Result<Self> {
        if !base.username().is_empty() || base.password().is_some() {
            return Err(ImportError::Invalid(format!(
                "{}://{}: the URL holds credentials; give the user with --user and the \
                 password in a file instead",
                base.scheme(),
                base.host_str().unwrap_or_default()
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            // No overall timeout: a large asset may take long; a stalled read is caught below.
            .read_timeout(Duration::from_secs(300))
            // Redirects would drop the credentials on another host; a Nexus answers directly.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("arca-import/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| ImportError::Http {
                what: "HTTP client".into(),
                source,
            })?;
        Ok(Endpoint {
            base,
            user,
            password,
            http,
        })
    }

    pub fn base(&self) -> &url::Url {
        &self.base
    }

    /// `path` (starting with `/`) under the base URL, which may itself have a path (a Nexus
    /// behind a reverse proxy at `/nexus`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base.as_str().trim_end_matches('/'), path)
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.authorize(self.http.request(method, self.url(path)))
    }

    /// This end's credentials on a request (built from an absolute URL, such as an upload's
    /// Location).
    pub fn authorize(&self, req: RequestBuilder) -> RequestBuilder {
        req.basic_auth(&self.user, Some(&self.password))
    }

    /// Sends and turns a non-2xx answer into `ImportError::Status` with the body's start.
    pub async fn send(&self, req: RequestBuilder, what: &str) -> Result<Response> {
        let resp = req.send().await.map_err(|source| ImportError::Http {
            what: what.to_owned(),
            source,
        })?;
        check(resp, what).await
    }

    /// GET of content, following one redirect (a blob served from signed storage URLs): with
    /// this end's credentials only when it stays on the same origin.
    pub async fn get_content(&self, path: &str) -> Result<Response> {
        let what = format!("GET {}", self.url(path));
        let resp = self
            .request(Method::GET, path)
            .send()
            .await
            .map_err(|source| ImportError::Http {
                what: what.clone(),
                source,
            })?;
        if !resp.status().is_redirection() {
            return check(resp, &what).await;
        }
        let loc = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| ImportError::Invalid(format!("{what}: redirect without Location")))?;
        let url = resp
            .url()
            .join(loc)
            .map_err(|e| ImportError::Invalid(format!("{what}: redirect to {loc}: {e}")))?;
        let mut req = self.http.get(url.clone());
        if url.origin() == self.base.origin() {
            req = self.authorize(req);
        }
        self.send(req, &format!("GET {url}")).await
    }

    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let what = format!("GET {}", self.url(path));
        let resp = self
            .send(
                self.request(Method::GET, path)
                    .header("accept", "application/json"),
                &what,
            )
            .await?;
        let body = bounded(resp, JSON_LIMIT, &what).await?;
        serde_json::from_slice(&body)
            .map_err(|e| ImportError::Invalid(format!("{what}: not the JSON expected: {e}")))
    }

    /// GET that answers `None` for 404.
    pub async fn get_json_opt<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>> {
        match self.get_json(path).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn send_json(
        &self,
        method: Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<Response> {
        let what = format!("{method} {}", self.url(path));
        self.send(self.request(method, path).json(body), &what)
            .await
    }

    /// One page of a Nexus listing paged with `continuationToken` (assets, components): its
    /// items and the next page's token.
    pub async fn page(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<(Vec<serde_json::Value>, Option<String>)> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let p = match token {
            Some(t) => format!("{path}{sep}continuationToken={}", encode(t)),
            None => path.to_owned(),
        };
        let page: serde_json::Value = self.get_json(&p).await?;
        let items = page
            .get("items")
            .and_then(|i| i.as_array())
            .cloned()
            .unwrap_or_default();
        let next = page
            .get("continuationToken")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Ok((items, next))
    }

    /// The pages of a Nexus listing, each fetched when the consumer asks for more: a
    /// repository of millions of assets is never listed into memory whole, and copies of
    /// earlier pages stay in flight across page boundaries.
    pub fn pages<'a>(
        &'a self,
        list: &'a str,
    ) -> impl futures_util::Stream<Item = Result<Vec<serde_json::Value>>> + 'a {
        // State: `Some(token)` = a page to fetch (`Some(None)`: the first).
        futures_util::stream::try_unfold(
            (Some(None::<String>), Tokens::default()),
            move |(tok, mut seen)| async move {
                let Some(tok) = tok else { return Ok(None) };
                let (items, next) = self.page(list, tok.as_deref()).await?;
                let next = seen.next(list, next)?;
                Ok(Some((items, (next.map(Some), seen))))
            },
        )
    }

    /// Every item of a paged listing.
    pub async fn paged(&self, path: &str) -> Result<Vec<serde_json::Value>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut seen = Tokens::default();
        loop {
            let (items, next) = self.page(path, token.as_deref()).await?;
            out.extend(items);
            match seen.next(&self.url(path), next)? {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }
}

/// The continuation tokens a listing has given: a server that hands one out again would
/// otherwise be listed forever.
#[derive(Default)]
pub struct Tokens(std::collections::HashSet<String>);

impl Tokens {
    /// `next` if it is new; an error naming `listing` if the server gave it before.
    pub fn next(&mut self, listing: &str, next: Option<String>) -> Result<Option<String>> {
        match next {
            Some(t) if !self.0.insert(t.clone()) => Err(ImportError::Invalid(format!(
                "{listing}: the server repeated a continuation token after {} pages; stopping \
                 rather than listing forever",
                self.0.len()
            ))),
            other => Ok(other),
        }
    }
}

async fn check(resp: Response, what: &str) -> Result<Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status().as_u16();
    let url = resp.url().to_string();
    // Only the start of an error page: a hostile or broken end cannot make us hold more.
    let body = bounded(resp, ERROR_BODY_LIMIT, what)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let body: String = body.chars().take(400).collect();
    Err(ImportError::Status {
        method: what.split(' ').next().unwrap_or("").to_owned(),
        url,
        status,
        body,
    })
}

/// A response's body, refused once it passes `limit` bytes (an error page keeps its first
/// `limit` bytes: `limit` is small there and the message only shows the start).
pub async fn bounded(mut resp: Response, limit: usize, what: &str) -> Result<bytes::Bytes> {
    if resp.content_length().is_some_and(|n| n > limit as u64) && limit > ERROR_BODY_LIMIT {
        return Err(too_large(what, limit));
    }
    let mut out = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|source| ImportError::Http {
        what: what.to_owned(),
        source,
    })? {
        if out.len() + chunk.len() > limit {
            if limit <= ERROR_BODY_LIMIT {
                out.extend_from_slice(&chunk[..limit - out.len()]);
                break;
            }
            return Err(too_large(what, limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

fn too_large(what: &str, limit: usize) -> ImportError {
    ImportError::Invalid(format!(
        "{what}: the answer is larger than {} MiB; refused",
        limit / (1024 * 1024)
    ))
}

/// Percent-encodes a query value or a path segment.
pub fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Percent-encodes each segment of a repository path, keeping the slashes.
pub fn encode_path(p: &str) -> String {
    p.split('/')
        .map(|s| {
            // byte_serialize writes spaces as `+`, which a path keeps literally.
            encode(s).replace('+', "%20")
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_slashes() {
        assert_eq!(encode_path("a b/c+d/e.txt"), "a%20b/c%2Bd/e.txt");
    }

    /// A listing on loopback whose pages go a → b → a …, or a → b → end with `cycle` off.
    async fn pager(cycle: bool) -> url::Url {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    let line = String::from_utf8_lossy(&req)
                        .lines()
                        .next()
                        .unwrap()
                        .to_owned();
                    let next = if line.contains("continuationToken=b") {
                        if cycle { "\"a\"" } else { "null" }
                    } else if line.contains("continuationToken=a") {
                        "\"b\""
                    } else {
                        "\"a\""
                    };
                    let body =
                        format!(r#"{{"items":[{{"path":"p"}}],"continuationToken":{next}}}"#);
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}").parse().unwrap()
    }

    #[tokio::test]
    async fn a_repeated_continuation_token_stops_the_listing() {
        let ends = Endpoint::new(pager(false).await, "u".into(), "p".into()).unwrap();
        assert_eq!(
            ends.paged("/service/rest/v1/assets?repository=r")
                .await
                .unwrap()
                .len(),
            3
        );
        let cycles = Endpoint::new(pager(true).await, "u".into(), "p".into()).unwrap();
        let err = tokio::time::timeout(
            Duration::from_secs(10),
            cycles.paged("/service/rest/v1/assets?repository=r"),
        )
        .await
        .expect("the listing stops")
        .unwrap_err();
        assert!(
            err.to_string().contains("repeated a continuation token"),
            "{err}"
        );
    }

    #[test]
    fn credentials_in_the_url_are_refused() {
        let url: url::Url = "https://admin:s3cret@nexus.invalid/".parse().unwrap();
        let err = Endpoint::new(url, "admin".into(), "p".into()).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("credentials"), "{msg}");
        assert!(
            !msg.contains("s3cret"),
            "the password is not repeated: {msg}"
        );
    }

    /// A loopback server answering every request with `head` and then `body_len` bytes of `x`.
    async fn answering(head: &'static str, body_len: usize) -> url::Url {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let _ = sock.write_all(head.as_bytes()).await;
                    let chunk = vec![b'x'; 64 * 1024];
                    let mut left = body_len;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        if sock.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                        left -= n;
                    }
                });
            }
        });
        format!("http://{addr}").parse().unwrap()
    }

    #[tokio::test]
    async fn answers_are_read_within_bounds() {
        // A JSON answer announcing more than the limit is refused before it is read.
        let huge = answering(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 40000000\r\nconnection: close\r\n\r\n",
            0,
        )
        .await;
        let e = Endpoint::new(huge, "u".into(), "p".into()).unwrap();
        let err = e
            .get_json::<serde_json::Value>("/service/rest/v1/repositories")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        // One without a length stops at the limit.
        let endless = answering(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
            300 * 1024,
        )
        .await;
        let e = Endpoint::new(endless.clone(), "u".into(), "p".into()).unwrap();
        let resp = e.http.get(endless.as_str()).send().await.unwrap();
        let err = bounded(resp, 128 * 1024, "GET").await.unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        // An error page keeps only its start.
        let resp = e.http.get(endless.as_str()).send().await.unwrap();
        assert_eq!(bounded(resp, 4096, "GET").await.unwrap().len(), 4096);
    }
}
