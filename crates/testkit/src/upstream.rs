//! A small remote for proxy tests: serves files from memory on 127.0.0.1, counts requests per
//! path, answers conditional requests, can require Basic auth, and can be taken down.

use std::{
    collections::HashMap,
    net::TcpListener,
    sync::{Arc, Mutex},
    thread::JoinHandle,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, web};
use futures_util::StreamExt;

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    hits: HashMap<String, usize>,
    auth: Option<String>,
    delay_ms: u64,
    trickle_ms: u64,
}

pub struct Upstream {
    pub url: String,
    state: Arc<Mutex<State>>,
    handle: Option<ServerHandle>,
    thread: Option<JoinHandle<()>>,
}

fn etag(b: &[u8]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    b.hash(&mut h);
    format!("\"{:x}\"", h.finish())
}

async fn serve(req: HttpRequest, state: web::Data<Arc<Mutex<State>>>) -> HttpResponse {
    let path = req.path().trim_start_matches('/').to_owned();
    let (file, auth, delay, trickle) = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        *s.hits.entry(path.clone()).or_default() += 1;
        (
            s.files.get(&path).cloned(),
            s.auth.clone(),
            s.delay_ms,
            s.trickle_ms,
        )
    };
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    if let Some(want) = auth {
        let got = req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if got != want {
            return HttpResponse::Unauthorized().finish();
        }
    }
    let Some(body) = file else {
        return HttpResponse::NotFound().finish();
    };
    let tag = etag(&body);
    if req
        .headers()
        .get("if-none-match")
        .and_then(|v| v.to_str().ok())
        == Some(tag.as_str())
    {
        return HttpResponse::NotModified().finish();
    }
    let mut ok = HttpResponse::Ok();
    ok.insert_header(("etag", tag))
        .content_type("application/x-test");
    if trickle > 0 && body.len() >= 64 * 1024 {
        // The first half now, the rest after a pause: a slow remote mid-file.
        let n = body.len() as u64;
        let rest = body[body.len() / 2..].to_vec();
        let first = body[..body.len() / 2].to_vec();
        let chunks =
            futures_util::stream::iter([first, rest])
                .enumerate()
                .then(move |(i, c)| async move {
                    if i == 1 {
                        tokio::time::sleep(std::time::Duration::from_millis(trickle)).await;
                    }
                    Ok::<_, std::io::Error>(bytes::Bytes::from(c))
                });
        ok.no_chunking(n);
        return ok.body(actix_web::body::SizedStream::new(n, Box::pin(chunks)));
    }
    ok.body(body)
}

impl Upstream {
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind upstream");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        let (tx, rx) = std::sync::mpsc::channel();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let data = web::Data::new(st);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .default_service(web::to(serve))
                })
                .workers(2)
                .disable_signals()
                .listen(listener)
                .expect("listen")
                .run();
                let _ = tx.send(server.handle());
                let _ = server.await;
            })
        });
        let handle = rx.recv().expect("upstream starts");
        Self {
            url,
            state,
            handle: Some(handle),
            thread: Some(thread),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn put(&self, path: &str, body: impl Into<Vec<u8>>) {
        self.with(|s| s.files.insert(path.to_owned(), body.into()));
    }
    pub fn remove(&self, path: &str) {
        self.with(|s| s.files.remove(path));
    }
    /// Requests received for `path`.
    pub fn hits(&self, path: &str) -> usize {
        self.with(|s| s.hits.get(path).copied().unwrap_or(0))
    }
    /// Require `Authorization: Basic base64(user:pass)`.
    pub fn require_basic(&self, header_value: &str) {
        self.with(|s| s.auth = Some(header_value.to_owned()));
    }
    /// Send the second half of each file of 64 KiB or more only this long after its first.
    pub fn trickle(&self, ms: u64) {
        self.with(|s| s.trickle_ms = ms);
    }
    /// Answer every request only after this long.
    pub fn delay(&self, ms: u64) {
        self.with(|s| s.delay_ms = ms);
    }

    /// Takes the remote down: its port stops answering.
    pub async fn stop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.stop(false).await;
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            drop(h.stop(false));
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
