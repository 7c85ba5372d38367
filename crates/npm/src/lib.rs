//! npm repositories (Nexus format `npm`): hosted (`npm publish`, dist-tags, deprecate,
//! unpublish, search, login), proxy (a remote registry's packuments cached for
//! `metadataMaxAge`, tarballs on first download, `npm audit` passed through) and group
//! (packuments merged, tarballs from the first member holding them, publishes to the writable
//! member). npm, pnpm and yarn classic talk to `{base}/repository/{name}/`.

mod error;
mod hosted;
mod names;
mod packument;
mod proxy;
mod splitter;
mod upload;

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, http::Method, http::header, web};
use arca_core::{
    Format, RepoContext,
    http::{blob_response, not_modified, remote_response, requested_range},
    model::{Asset, AssetPath, RepoKind, Repository, RepositorySpec},
    proxy::{Fetched, ProxySettings},
    security::{Action, Via},
};
use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::{Value, json};

pub use error::NpmError;
use error::{Result, bad};
use names::{PkgName, Route};
use packument::{ABBREVIATED, Doc};

/// Small JSON request bodies (login, a dist-tag's version) at most.
const SMALL_BODY: usize = 64 * 1024;
/// Components looked at by one search.
const SEARCH_SCAN: usize = 100_000;

#[derive(Default)]
pub struct NpmFormat {
    docs: proxy::DocCache,
}

#[async_trait(?Send)]
impl Format for NpmFormat {
    /// Nexus's `npm.scope`: the component's group, the scope without `@`.
    fn search_aliases(&self) -> &'static [(&'static str, &'static str)] {
        &[("npm.scope", "group")]
    }
    fn id(&self) -> &'static str {
        "npm"
    }

    fn kinds(&self) -> &'static [RepoKind] {
        &[RepoKind::Hosted, RepoKind::Proxy, RepoKind::Group]
    }

    /// Nexus 3.94 reports `npm.removeQuarantined` for proxies (Arca keeps no quarantine).
    fn api_defaults(&self, kind: RepoKind) -> Value {
        match kind {
            RepoKind::Proxy => json!({ "npm": { "removeQuarantined": false } }),
            _ => Value::Null,
        }
    }

    fn validate(&self, spec: &RepositorySpec) -> std::result::Result<(), String> {
        if spec.kind == RepoKind::Proxy {
            ProxySettings::from_attrs(&spec.attrs)?;
            if let Some(v) = spec.attrs.pointer("/npm/removeQuarantined")
                && !v.is_boolean()
                && !v.is_null()
            {
                return Err("npm.removeQuarantined must be true or false".into());
            }
        }
        if spec.kind == RepoKind::Group
            && let Some(w) = spec
                .attrs
                .pointer("/group/writableMember")
                .and_then(Value::as_str)
                .filter(|w| !w.is_empty())
            && !spec.members.iter().any(|m| m == w)
        {
            return Err(format!(
                "group.writableMember {w} must be one of group.memberNames"
            ));
        }
        Ok(())
    }

    fn action(&self, method: &Method, path: &str) -> Action {
        Route::parse(path).action(method)
    }

    fn settings_form(&self) -> Vec<arca_core::settings_form::FormBlock> {
        use arca_core::settings_form::{FormBlock, FormField};
        vec![FormBlock {
            legend: "npm",
            kinds: &[RepoKind::Proxy],
            fields: vec![FormField::choice(
                "npm.removeQuarantined",
                "Remove quarantined versions (Arca keeps no quarantine)",
                &[("false", "false"), ("true", "true")],
            )],
        }]
    }

    /// Semantic versioning: a version with a `-` part (`2.0.0-beta.1`).
    fn is_prerelease(&self, version: &str) -> bool {
        names::is_prerelease(version)
    }

    fn usage(
        &self,
        base_url: &str,
        repo: &Repository,
        _asset: &Asset,
        component: Option<&arca_core::model::Component>,
    ) -> Vec<arca_core::format::Usage> {
        use arca_core::format::{Usage, repository_url};
        let Some(c) = component else {
            return Vec::new();
        };
        let name = match c.namespace.as_str() {
            "" => c.name.clone(),
            scope => format!("@{scope}/{}", c.name),
        };
        let registry = repository_url(base_url, repo);
        vec![
            Usage::new(
                "npm",
                format!("npm install {name}@{} --registry {registry}", c.version),
            ),
            Usage::new(
                "pnpm",
                format!("pnpm add {name}@{} --registry {registry}", c.version),
            ),
            Usage::new(
                "yarn",
                format!("yarn add {name}@{} --registry {registry}", c.version),
            ),
            Usage::new(".npmrc", format!("registry={registry}")),
        ]
    }

    fn upload_spec(&self) -> Option<Value> {
        Some(json!({
            "format": "npm",
            "multipleUpload": false,
            "componentFields": [],
            "assetFields": [],
        }))
    }

    /// Nexus's form: one `npm.asset`, a package tarball; name and version come from its
    /// `package/package.json`.
    async fn upload_component(
        &self,
        cx: RepoContext,
        req: HttpRequest,
        body: web::Payload,
    ) -> HttpResponse {
        match upload::upload(&cx, &req, body).await {
            Ok(()) => HttpResponse::NoContent().finish(),
            Err(e) => e.response(),
        }
    }

    async fn handle(&self, cx: RepoContext, req: HttpRequest, body: web::Payload) -> HttpResponse {
        let route = Route::parse(&cx.path);
        let span = tracing::info_span!("npm", repo = %cx.repo.name, route = ?route);
        match tracing::Instrument::instrument(self.route(&cx, &req, route, body), span).await {
            Ok(r) => r,
            Err(e) => e.response(),
        }
    }

    fn configure(&self, cfg: &mut web::ServiceConfig) {
        cfg.route(
            "/repository/{repository}/-/user/org.couchdb.user:{user}",
            web::put().to(login_route),
        );
    }

    async fn deleted(&self, _cx: &RepoContext, _paths: &[String]) {
        // Versions live in their tarball assets: deleting one removes its version; nothing
        // else to keep in step.
    }
}

async fn sources(cx: &RepoContext) -> Result<Vec<Repository>> {
    Ok(cx.sources().await?)
}

fn wants_abbreviated(req: &HttpRequest) -> bool {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let write = req.query_string().split('&').any(|p| p == "write=true");
    !write && accept.contains(ABBREVIATED)
}

/// Reads a small body whole.
async fn small_body(mut body: web::Payload) -> Result<bytes::Bytes> {
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| bad(format!("reading the request body: {e}")))?;
        if buf.len() + chunk.len() > SMALL_BODY {
            return Err(NpmError::TooLarge(SMALL_BODY as u64));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

fn not_allowed() -> NpmError {
    NpmError::MethodNotAllowed("method not allowed here".into())
}

impl NpmFormat {
    async fn route(
        &self,
        cx: &RepoContext,
        req: &HttpRequest,
        route: Route,
        body: web::Payload,
    ) -> Result<HttpResponse> {
        let m = req.method().clone();
        let read = m == Method::GET || m == Method::HEAD;
        match route {
            Route::Root if read => {
                let repos = sources(cx).await?;
                Ok(arca_core::browse::listing(cx, &repos).await)
            }
            Route::Ping if read => Ok(HttpResponse::Ok().json(json!({}))),
            Route::Whoami if read => {
                if cx.subject.anonymous {
                    return Err(NpmError::Unauthorized("not logged in".into()));
                }
                Ok(HttpResponse::Ok().json(json!({ "username": cx.subject.user_id })))
            }
            Route::Search if read => self.search(cx, req).await,
            Route::WebLogin => Err(NpmError::NotFound(
                "web login is not offered; npm falls back to a password login".into(),
            )),
            Route::Login(user) if m == Method::PUT => login(&cx.arca, req, &user, body).await,
            Route::Logout(token) if m == Method::DELETE => logout(cx, &token).await,
            Route::Audit(tail) if m == Method::POST => proxy::audit(cx, req, &tail, body).await,
            Route::DistTags(name) if read => {
                hosted::dist_tags(self.doc(cx, &name).await?.as_deref(), &name)
            }
            Route::DistTag(name, tag) if read => {
                let d = self.doc(cx, &name).await?;
                match d.and_then(|d| d.dist_tags.get(&tag).cloned()) {
                    Some(v) => Ok(HttpResponse::Ok().json(v)),
                    None => Err(NpmError::NotFound(format!("dist-tag {tag}"))),
                }
            }
            Route::DistTag(name, tag) if m == Method::PUT || m == Method::POST => {
                let b = small_body(body).await?;
                let v: String = serde_json::from_slice(&b)
                    .map_err(|_| bad("the body must be the version, as a JSON string"))?;
                hosted::set_dist_tag(cx, &name, &tag, Some(v)).await
            }
            Route::DistTag(name, tag) if m == Method::DELETE => {
                hosted::set_dist_tag(cx, &name, &tag, None).await
            }
            Route::Packument(name) if read => self.packument(cx, req, &name).await,
            Route::Packument(name) if m == Method::PUT => {
                hosted::put_package(cx, req, &name, body).await
            }
            Route::Packument(name) if m == Method::DELETE => hosted::unpublish(cx, &name).await,
            Route::Version(name, v) if read => self.version(cx, &name, &v).await,
            Route::Tarball(name, file) if read => self.tarball(cx, req, &name, &file).await,
            Route::Tarball(name, file) if m == Method::DELETE => {
                hosted::delete_tarball(cx, &name, &file).await
            }
            Route::Unknown => Err(NpmError::NotFound(cx.path.clone())),
            _ => Err(not_allowed()),
        }
    }

    /// One repository's view of a package.
    async fn member_doc(
        &self,
        cx: &RepoContext,
        repo: &Repository,
        name: &PkgName,
    ) -> Result<Option<Arc<Doc>>> {
        match repo.kind {
            RepoKind::Proxy => proxy::proxy_doc(cx, &self.docs, repo, name).await,
            _ => Ok(hosted::hosted_doc(cx, repo, name).await?.map(Arc::new)),
        }
    }

    /// The package as the repository addressed sees it (a group: merged); a member that fails
    /// is skipped unless none answers.
    async fn doc(&self, cx: &RepoContext, name: &PkgName) -> Result<Option<Arc<Doc>>> {
        let repos = sources(cx).await?;
        if repos.len() == 1 && repos[0].kind == RepoKind::Proxy {
            return self.member_doc(cx, &repos[0], name).await;
        }
        let mut docs = Vec::new();
        let mut failure = None;
        for r in &repos {
            match self.member_doc(cx, r, name).await {
                Ok(Some(d)) => docs.push(d),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(member = %r.name, error = %e, "member failed; skipped");
                    failure = Some(e);
                }
            }
        }
        if docs.len() == 1 {
            return Ok(docs.pop());
        }
        // A group's merge is kept by the members' revisions: merging a big package's versions
        // anew on every request would cost more than serving it.
        let key = format!(
            "merged\0{}",
            packument::merged_rev(docs.iter().map(|d| d.rev.as_str()))
        );
        if !docs.is_empty()
            && let Some(d) = self.docs.get(&key)
        {
            return Ok(Some(d));
        }
        let size = docs.iter().map(|d| d.versions.len() as u64 * 2048).sum();
        let docs = docs.into_iter().map(Arc::unwrap_or_clone).collect();
        match (Doc::merge(docs), failure) {
            (Some(d), _) => {
                let d = Arc::new(d);
                self.docs.put(key, size, d.clone());
                Ok(Some(d))
            }
            (None, Some(e)) => Err(e),
            (None, None) => Ok(None),
        }
    }

    async fn packument(
        &self,
        cx: &RepoContext,
        req: &HttpRequest,
        name: &PkgName,
    ) -> Result<HttpResponse> {
        let prefix = cx.repo_url();
        let abbreviated = wants_abbreviated(req);
        // A single proxy's packument is shared (cached parsed): render from it directly.
        let doc = self
            .doc(cx, name)
            .await?
            .ok_or_else(|| NpmError::NotFound(name.full.clone()))?;
        let ct = if abbreviated {
            ABBREVIATED
        } else {
            "application/json"
        };
        // The revision names the content: a client's cached copy is revalidated for free.
        let etag = format!("\"{}-{}\"", doc.rev, if abbreviated { "a" } else { "f" });
        let cached = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim().trim_start_matches("W/") == etag)
            });
        if cached {
            return Ok(HttpResponse::NotModified()
                .insert_header((header::ETAG, etag))
                .finish());
        }
        let body = match self.docs.rendered(&doc.rev, &prefix, abbreviated) {
            Some(b) => b,
            None => {
                let v = if abbreviated {
                    doc.render_abbreviated(name, &prefix)
                } else {
                    doc.render_full(name, &prefix)
                };
                let b: bytes::Bytes = serde_json::to_vec(&v)
                    .map_err(|e| bad(e.to_string()))?
                    .into();
                self.docs
                    .put_rendered(&doc.rev, &prefix, abbreviated, b.clone());
                b
            }
        };
        Ok(HttpResponse::Ok()
            .content_type(ct)
            .insert_header((header::VARY, "Accept"))
            .insert_header((header::ETAG, etag))
            .body(body))
    }

    /// `GET /{name}/{version or dist-tag}`: one version's manifest.
    async fn version(&self, cx: &RepoContext, name: &PkgName, v: &str) -> Result<HttpResponse> {
        let doc = self
            .doc(cx, name)
            .await?
            .ok_or_else(|| NpmError::NotFound(name.full.clone()))?;
        let version = doc.dist_tags.get(v).map(String::as_str).unwrap_or(v);
        let full = doc.render_full(name, &cx.repo_url());
        match full.pointer(&format!(
            "/versions/{}",
            version.replace('~', "~0").replace('/', "~1")
        )) {
            Some(m) => Ok(HttpResponse::Ok().json(m)),
            None => Err(NpmError::NotFound(format!("{}@{v}", name.full))),
        }
    }

    async fn locate(
        &self,
        cx: &RepoContext,
        repo: &Repository,
        name: &PkgName,
        path: &AssetPath,
    ) -> Result<Option<Fetched>> {
        if let Some(a) = cx.arca.db.find_asset(repo.id, path.as_str()).await? {
            return Ok(Some(Fetched::Cached(a)));
        }
        match repo.kind {
            RepoKind::Proxy => proxy::proxy_tarball(cx, &self.docs, repo, name, path).await,
            _ => Ok(None),
        }
    }

    async fn tarball(
        &self,
        cx: &RepoContext,
        req: &HttpRequest,
        name: &PkgName,
        file: &str,
    ) -> Result<HttpResponse> {
        if name.version_of(file).is_none() {
            return Err(NpmError::NotFound(format!("{}{file}", name.dir())));
        }
        let path =
            AssetPath::parse(&format!("{}{file}", name.dir())).map_err(|e| bad(e.to_string()))?;
        let mut failure = None;
        for repo in sources(cx).await? {
            match self.locate(cx, &repo, name, &path).await {
                Ok(Some(Fetched::Remote(remote))) => return Ok(remote_response(req, remote)),
                Ok(Some(Fetched::Cached(asset))) => {
                    if let Some(r) = not_modified(req, &asset) {
                        return Ok(r);
                    }
                    let body = cx.arca.storage.open(&asset, requested_range(req)).await?;
                    return Ok(blob_response(req, &asset, body));
                }
                Ok(None) => {}
                Err(e) => failure = Some(e),
            }
        }
        Err(failure.unwrap_or_else(|| NpmError::NotFound(path.to_string())))
    }

    /// `GET /-/v1/search?text=&size=&from=`: packages whose name holds the text, from the
    /// components the repository (its members) hold.
    async fn search(&self, cx: &RepoContext, req: &HttpRequest) -> Result<HttpResponse> {
        let q =
            web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
                .map_err(|e| bad(e.to_string()))?;
        let text = q.get("text").cloned().unwrap_or_default().to_lowercase();
        let size: usize = q
            .get("size")
            .and_then(|s| s.parse().ok())
            .unwrap_or(20)
            .clamp(1, 250);
        let from: usize = q.get("from").and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut names = std::collections::BTreeSet::new();
        let mut scanned = 0;
        for repo in sources(cx).await? {
            let mut after = 0;
            loop {
                let page = cx.arca.db.list_components(repo.id, after, 1000).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                scanned += page.len();
                for c in &page {
                    let full = if c.namespace.is_empty() {
                        c.name.clone()
                    } else {
                        format!("@{}/{}", c.namespace, c.name)
                    };
                    let hit = text
                        .split_whitespace()
                        .all(|t| full.to_lowercase().contains(t));
                    if hit {
                        names.insert(full);
                    }
                }
                if page.len() < 1000 || scanned >= SEARCH_SCAN {
                    break;
                }
            }
        }
        let mut total = names.len() as u64;
        let local: std::collections::HashSet<String> = names.iter().cloned().collect();
        let mut objects = Vec::new();
        for full in names.into_iter().skip(from).take(size) {
            let Ok(name) = PkgName::parse(&full) else {
                continue;
            };
            let Some(doc) = self.doc(cx, &name).await.ok().flatten() else {
                continue;
            };
            let Some(latest) = doc.dist_tags.get("latest").cloned() else {
                continue;
            };
            let m = doc.versions.get(&latest).cloned().unwrap_or(Value::Null);
            objects.push(json!({
                "package": {
                    "name": full,
                    "scope": name.scope.clone().unwrap_or_else(|| "unscoped".into()),
                    "version": latest,
                    "description": m.get("description"),
                    "keywords": m.get("keywords"),
                    "date": doc.time.get(&latest),
                    "links": {},
                    "publisher": m.get("_npmUser").map(|u| json!({"username": u.get("name")})),
                    "maintainers": maintainers(&m),
                },
                "score": { "final": 1.0, "detail": { "quality": 1.0, "popularity": 1.0, "maintenance": 1.0 } },
                "searchScore": 1.0,
            }));
        }
        // Proxies add what their remote finds (after the local results, without repeats).
        for repo in sources(cx).await? {
            if repo.kind != RepoKind::Proxy || objects.len() >= size {
                continue;
            }
            let query = [
                ("text", text.clone()),
                ("size", size.to_string()),
                ("from", from.to_string()),
            ];
            match proxy::remote_search(cx, &repo, &query).await {
                Ok((found, n)) => {
                    total += n;
                    for o in found {
                        let name = o.pointer("/package/name").and_then(Value::as_str);
                        if objects.len() < size && name.is_some_and(|n| !local.contains(n)) {
                            objects.push(o);
                        }
                    }
                }
                Err(e) => tracing::warn!(member = %repo.name, error = %e, "remote search failed"),
            }
        }
        Ok(HttpResponse::Ok().json(json!({
            "objects": objects,
            "total": total,
            "time": packument::iso8601(arca_core::model::now_ms()),
        })))
    }
}

/// `[{username, email}]`, as npm's search output reads it.
fn maintainers(m: &Value) -> Value {
    let listed: Vec<Value> = m
        .get("maintainers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| json!({"username": x.get("name").or(x.get("username")), "email": x.get("email")}))
                .collect()
        })
        .unwrap_or_default();
    if !listed.is_empty() {
        return Value::Array(listed);
    }
    match m.pointer("/_npmUser/name") {
        Some(n) => json!([{ "username": n, "email": "" }]),
        None => json!([]),
    }
}

#[derive(serde::Deserialize)]
struct LoginBody {
    name: Option<String>,
    password: Option<String>,
}

/// `PUT /-/user/org.couchdb.user:{name}` (`npm login --auth-type=legacy`, `npm adduser`): the
/// password is checked by core (throttled, on the bounded hashing pool) and answered with a
/// new API token, which npm then sends as `Authorization: Bearer` (the User Token realm).
async fn login(
    arca: &arca_core::Arca,
    req: &HttpRequest,
    user: &str,
    body: web::Payload,
) -> Result<HttpResponse> {
    let b: LoginBody = serde_json::from_slice(&small_body(body).await?)
        .map_err(|e| bad(format!("invalid login body: {e}")))?;
    let name = b.name.unwrap_or_else(|| user.to_owned());
    if name != user {
        return Err(bad("the body names another user than the URL"));
    }
    let Some(password) = b.password.filter(|p| !p.is_empty()) else {
        return Err(bad("a password is required (Arca does not create users)"));
    };
    let ip = arca_core::auth::client_ip(arca, req);
    let subject = match arca.security.login(&name, &password, ip).await {
        Ok(s) => s,
        Err(arca_core::security::AuthError::BadCredentials) => {
            return Err(NpmError::Unauthorized(format!(
                "invalid user name or password for {name}"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    if subject.via == Via::Token {
        return Err(NpmError::Forbidden(
            "log in with a password: a token cannot mint another".into(),
        ));
    }
    let (token, _) = arca
        .security
        .issue_token(&subject.user_id, "npm login", None)
        .await?;
    tracing::info!(user = %subject.user_id, "npm login: token issued");
    Ok(HttpResponse::Created().json(json!({
        "ok": true,
        "id": format!("org.couchdb.user:{name}"),
        "rev": packument::rev_of(&name),
        "token": token,
    })))
}

/// `npm login` before the client holds any credential: the password is what it proves, so,
/// like docker's token endpoint, it needs no privilege on the repository (which a server
/// without anonymous access would refuse before [`Format::handle`]). The repository must exist,
/// be npm and pass core's [`admit`](arca_core::format::admit).
async fn login_route(
    req: HttpRequest,
    body: web::Payload,
    params: web::Path<(String, String)>,
    arca: web::Data<arca_core::Arca>,
) -> HttpResponse {
    let run = async {
        if !arca_core::http::path_is_utf8(&req) {
            return Err(bad("the request path is not UTF-8 once percent-decoded"));
        }
        let (name, user) = params.into_inner();
        let repo = match arca.repository(&name).await {
            Ok(r) if r.format == "npm" => r,
            Ok(_) | Err(arca_core::meta::MetaError::NotFound) => {
                return Err(NpmError::NotFound(format!("repository {name}")));
            }
            Err(e) => return Err(e.into()),
        };
        arca_core::format::admit(&arca, &repo, Action::Read)
            .await
            .map_err(|e| NpmError::Unavailable(e.to_string()))?;
        login(&arca, &req, &user, body).await
    };
    let span = tracing::info_span!("npm login");
    match tracing::Instrument::instrument(run, span).await {
        Ok(r) => r,
        Err(e) => e.response(),
    }
}

/// `DELETE /-/user/token/{token}` (`npm logout`): revokes the caller's token.
async fn logout(cx: &RepoContext, token: &str) -> Result<HttpResponse> {
    if cx.subject.anonymous {
        return Err(NpmError::Unauthorized("not logged in".into()));
    }
    let hash = arca_core::security::token_hash(token);
    match cx.arca.db.use_token(&hash).await? {
        Some(t) if t.user_id == cx.subject.user_id => {
            cx.arca.security.revoke_token(&t.user_id, t.id).await?;
            Ok(HttpResponse::Ok().json(json!({ "ok": true })))
        }
        _ => Err(NpmError::NotFound("no such token".into())),
    }
}
