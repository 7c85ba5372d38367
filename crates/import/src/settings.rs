//! Settings, in the order they depend on each other: blob stores, cleanup policies, content
//! selectors, repositories (hosted, proxy, group), privileges, roles, users, anonymous access.
//! Each is read from the source as Nexus answers it and created on the target with the same body
//! (minus what the target refuses or answers itself); what exists already is left alone.

use std::collections::BTreeSet;

use rand::{Rng, distributions::Alphanumeric};
use reqwest::Method;
use serde_json::{Value, json};

use crate::http::{Endpoint, encode};
use crate::report::{Collector, Outcome};
use crate::{ImportError, NexusArgs, Part, Result};

/// The formats this importer copies; repositories of any other are listed as skipped.
pub const FORMATS: &[&str] = &["raw", "maven2", "pypi", "yum", "docker", "npm"];
/// Formats Arca serves that this importer does not copy yet (skipped, with that reason).
const NOT_YET: &[&str] = &[];

pub struct Ctx<'a> {
    pub source: &'a Endpoint,
    pub target: &'a Endpoint,
    pub args: &'a NexusArgs,
    pub report: &'a Collector,
}

#[derive(Clone, Debug)]
pub struct Repo {
    pub name: String,
    pub format: String,
    pub kind: String,
}

const V1: &str = "/service/rest/v1";

impl Ctx<'_> {
    /// Creates `body` at `path` on the target unless dry-running; records the outcome.
    async fn create(&self, kind: &str, name: &str, method: Method, path: &str, body: &Value) {
        if self.args.dry_run {
            self.report.item(kind, name, Outcome::WouldCreate, "");
            return;
        }
        match self
            .target
            .send_json(method, &format!("{V1}{path}"), body)
            .await
        {
            Ok(_) => self.report.item(kind, name, Outcome::Created, ""),
            Err(e) => self.report.item(kind, name, Outcome::Failed, e.to_string()),
        }
    }

    async fn list(&self, end: &Endpoint, path: &str) -> Result<Vec<Value>> {
        let v: Value = end.get_json(&format!("{V1}{path}")).await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }
}

fn names(items: &[Value], key: &str) -> BTreeSet<String> {
    items
        .iter()
        .filter_map(|i| i.get(key).and_then(|n| n.as_str()).map(str::to_owned))
        .collect()
}

fn str_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(|s| s.as_str()).unwrap_or("")
}

/// Runs every selected settings step; answers the source's hosted repositories of Arca's
/// formats that the target has (or, dry-running, would have) for the content pass.
pub async fn import_all(cx: &Ctx<'_>) -> Result<Vec<Repo>> {
    let a = cx.args;
    if a.wants(Part::Blobstores) {
        blob_stores(cx).await?;
    }
    if a.wants(Part::Cleanup) {
        cleanup_policies(cx).await?;
    }
    if a.wants(Part::Selectors) {
        content_selectors(cx).await?;
    }
    let repos = repositories(cx, a.wants(Part::Repositories)).await?;
    if a.wants(Part::Privileges) {
        privileges(cx).await?;
    }
    if a.wants(Part::Roles) {
        roles(cx).await?;
    }
    if a.wants(Part::Users) {
        users(cx).await?;
    }
    if a.wants(Part::Anonymous) {
        anonymous(cx).await?;
    }
    scripts(cx).await;
    Ok(repos)
}

#[tracing::instrument(skip_all)]
async fn blob_stores(cx: &Ctx<'_>) -> Result<()> {
    let have = names(&cx.list(cx.target, "/blobstores").await?, "name");
    for bs in cx.list(cx.source, "/blobstores").await? {
        let name = str_of(&bs, "name");
        if have.contains(name) {
            cx.report.item("blob store", name, Outcome::Exists, "");
            continue;
        }
        let ty = str_of(&bs, "type").to_ascii_lowercase();
        if ty != "file" && ty != "s3" {
            cx.report.item(
                "blob store",
                name,
                Outcome::Skipped,
                format!("type {ty} (Arca has file and S3 blob stores)"),
            );
            continue;
        }
        let mut body: Value = cx
            .source
            .get_json(&format!("{V1}/blobstores/{ty}/{}", encode(name)))
            .await?;
        body["name"] = json!(name);
        if ty == "s3" {
            // Nexus never answers the secret key; the bucket must answer before Arca records
            // the store, so without it the create fails and the report says why.
            let secret = body
                .pointer("/bucketConfiguration/bucketSecurity/secretAccessKey")
                .and_then(|s| s.as_str())
                .unwrap_or("");
            if secret.is_empty() || secret.starts_with('#') {
                cx.report.item(
                    "blob store",
                    name,
                    Outcome::Skipped,
                    "S3 secret access key not revealed by the source: create this store on the target with the same bucket settings and its key, then run again",
                );
                continue;
            }
        }
        cx.create(
            "blob store",
            name,
            Method::POST,
            &format!("/blobstores/{ty}"),
            &body,
        )
        .await;
    }
    Ok(())
}

#[tracing::instrument(skip_all)]
async fn cleanup_policies(cx: &Ctx<'_>) -> Result<()> {
    let have = names(&cx.list(cx.target, "/cleanup-policies").await?, "name");
    // Nexus before 3.96 has them only under its internal API.
    let listed = match cx.list(cx.source, "/cleanup-policies").await {
        Err(e) if e.status() == Some(404) => {
            let v: Value = cx
                .source
                .get_json("/service/rest/internal/cleanup-policies")
                .await?;
            v.as_array().cloned().unwrap_or_default()
        }
        other => other?,
    };
    for mut p in listed {
        let name = str_of(&p, "name").to_owned();
        if have.contains(&name) {
            cx.report.item("cleanup policy", &name, Outcome::Exists, "");
            continue;
        }
        // The repositories come later and name their policies themselves.
        if let Some(o) = p.as_object_mut() {
            o.remove("repositories");
        }
        cx.create(
            "cleanup policy",
            &name,
            Method::POST,
            "/cleanup-policies",
            &p,
        )
        .await;
    }
    Ok(())
}

#[tracing::instrument(skip_all)]
async fn content_selectors(cx: &Ctx<'_>) -> Result<()> {
    let have = names(
        &cx.list(cx.target, "/security/content-selectors").await?,
        "name",
    );
    for s in cx.list(cx.source, "/security/content-selectors").await? {
        let name = str_of(&s, "name").to_owned();
        if have.contains(&name) {
            cx.report
                .item("content selector", &name, Outcome::Exists, "");
            continue;
        }
        let body = json!({"name": name, "description": s.get("description"), "expression": s.get("expression")});
        cx.create(
            "content selector",
            &name,
            Method::POST,
            "/security/content-selectors",
            &body,
        )
        .await;
    }
    Ok(())
}

/// The format's name in `/repositories/{format}/{type}` paths: Nexus says `maven` there for
/// repositories whose format is `maven2`.
pub fn path_format(format: &str) -> &str {
    match format {
        "maven2" => "maven",
        f => f,
    }
}

/// Hosted before proxy before group: a group's members must exist first (a group of groups
/// is ordered by its members below).
fn kind_rank(kind: &str) -> u8 {
    match kind {
        "hosted" => 0,
        "proxy" => 1,
        _ => 2,
    }
}

/// The source's answer, made into a create body for the target: what the server answers itself
/// (`url`, `format`, `type`) goes, and unset optional blocks are dropped.
pub fn create_body(mut v: Value) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in ["url", "format", "type"] {
            o.remove(k);
        }
        o.retain(|_, v| !v.is_null());
    }
    v
}

/// Takes out of a create body the settings Arca refuses outright (listed by `not_taken`), so the
/// repository is created without them rather than not at all.
pub fn drop_refused(body: &mut Value) {
    if let Some(d) = body.get_mut("docker").and_then(|d| d.as_object_mut()) {
        d.remove("httpsPort");
        if d.get("v1Enabled") == Some(&json!(true)) {
            d.insert("v1Enabled".into(), json!(false));
        }
    }
}

/// Settings of a source repository that Arca does not act on or that Nexus does not reveal,
/// with the reason: listed in the report rather than silently dropped.
pub fn not_taken(body: &Value) -> Vec<(&'static str, &'static str)> {
    let set = |p: &str| {
        body.pointer(p)
            .is_some_and(|v| !v.is_null() && v != &json!(false))
    };
    let mut out = Vec::new();
    if set("/routingRuleName") || set("/routingRule") {
        out.push((
            "routingRuleName",
            "routing rules are not part of Arca: the repository serves every path",
        ));
    }
    if set("/replication") {
        out.push(("replication", "replication is a Nexus Pro feature"));
    }
    if set("/component/proprietaryComponents") {
        out.push((
            "component.proprietaryComponents",
            "proprietary components (Nexus Pro's firewall) are not part of Arca",
        ));
    }
    if set("/docker/subdomain") {
        out.push((
            "docker.subdomain",
            "subdomain routing (Nexus Pro): use docker.httpPort or the /v2/<repository>/ prefix",
        ));
    }
    // Docker settings Arca refuses: `drop_refused` takes them out of the create body.
    if set("/docker/httpsPort") {
        out.push((
            "docker.httpsPort",
            "Arca's docker connectors speak plain HTTP: put TLS on the main listener or a reverse proxy in front of docker.httpPort",
        ));
    }
    if set("/docker/v1Enabled") {
        out.push(("docker.v1Enabled", "Arca serves only the V2 registry API"));
    }
    if set("/storage/latestPolicy") {
        out.push((
            "storage.latestPolicy",
            "Arca has no separate policy for the latest tag: it follows storage.writePolicy like every tag",
        ));
    }
    // npm proxies: Nexus's Repository Firewall settings, which Arca stores but does not act on.
    if set("/npm/removeQuarantined") {
        out.push((
            "npm.removeQuarantined",
            "Arca keeps no quarantine (Nexus Repository Firewall): nothing is removed",
        ));
    }
    if set("/npm/removeNonCataloged") {
        out.push((
            "npm.removeNonCataloged",
            "Arca has no Repository Firewall catalog: nothing is removed",
        ));
    }
    if body
        .pointer("/firewall/mode")
        .and_then(|m| m.as_str())
        .is_some_and(|m| !m.eq_ignore_ascii_case("DISABLED"))
    {
        out.push((
            "firewall.mode",
            "Sonatype Repository Firewall (audit, quarantine) is not part of Arca",
        ));
    }
    if set("/httpClient/authentication/username") && !set("/httpClient/authentication/password") {
        out.push((
            "httpClient.authentication.password",
            "Nexus does not reveal the remote's password: set it on the target",
        ));
    }
    out
}

#[tracing::instrument(skip_all)]
async fn repositories(cx: &Ctx<'_>, create: bool) -> Result<Vec<Repo>> {
    let have = names(&cx.list(cx.target, "/repositories").await?, "name");
    let mut all: Vec<Repo> = cx
        .list(cx.source, "/repositories")
        .await?
        .iter()
        .map(|r| Repo {
            name: str_of(r, "name").to_owned(),
            format: str_of(r, "format").to_owned(),
            kind: str_of(r, "type").to_owned(),
        })
        .filter(|r| cx.args.wants_repo(&r.name))
        .collect();
    all.sort_by(|a, b| (kind_rank(&a.kind), &a.name).cmp(&(kind_rank(&b.kind), &b.name)));
    let mut bodies = Vec::new();
    let mut usable = Vec::new();
    for r in &all {
        if !FORMATS.contains(&r.format.as_str()) {
            cx.report.item(
                "repository",
                &r.name,
                Outcome::Skipped,
                if NOT_YET.contains(&r.format.as_str()) {
                    format!(
                        "Arca serves {0}, but this importer does not copy {0} repositories yet: \
                         create {1} ({0} {2}) on Arca and publish to it, or proxy the old one",
                        r.format, r.name, r.kind
                    )
                } else {
                    format!(
                        "format {} ({} {}) is not one Arca serves",
                        r.format, r.format, r.kind
                    )
                },
            );
            continue;
        }
        if have.contains(&r.name) {
            cx.report.item("repository", &r.name, Outcome::Exists, "");
            usable.push(r.clone());
            continue;
        }
        if !create {
            cx.report.item(
                "repository",
                &r.name,
                Outcome::Skipped,
                "not on the target, and repositories are not part of this run (--only)",
            );
            continue;
        }
        let path = format!(
            "{V1}/repositories/{}/{}/{}",
            path_format(&r.format),
            r.kind,
            encode(&r.name)
        );
        let mut body = create_body(cx.source.get_json(&path).await?);
        for (field, why) in not_taken(&body) {
            cx.report.item(
                "repository setting",
                &format!("{}: {field}", r.name),
                Outcome::Skipped,
                why,
            );
        }
        drop_refused(&mut body);
        bodies.push((r.clone(), body));
    }
    // Groups naming groups: create a group once all its members exist, in passes.
    let mut created: BTreeSet<String> = have.clone();
    for (r, _) in &bodies {
        if r.kind != "group" {
            created.insert(r.name.clone());
        }
    }
    let mut pending: Vec<(Repo, Value)> = Vec::new();
    for (r, body) in bodies {
        if r.kind == "group" {
            pending.push((r, body));
            continue;
        }
        create_repo(cx, &r, &body, &mut usable).await;
    }
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for (r, body) in pending {
            let members: Vec<String> = body
                .pointer("/group/memberNames")
                .and_then(|m| m.as_array())
                .map(|m| {
                    m.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if members.iter().all(|m| created.contains(m)) {
                created.insert(r.name.clone());
                create_repo(cx, &r, &body, &mut usable).await;
            } else {
                rest.push((r, body));
            }
        }
        if rest.len() == before {
            for (r, body) in rest {
                // Members the target does not have (a skipped format): try, and report.
                create_repo(cx, &r, &body, &mut usable).await;
            }
            break;
        }
        pending = rest;
    }
    // Proxies too when their caches are wanted (`--proxy-caches`), after every hosted one.
    let mut content: Vec<Repo> = usable
        .into_iter()
        .filter(|r| r.kind == "hosted" || (r.kind == "proxy" && cx.args.proxy_caches))
        .collect();
    content.sort_by_key(|r| r.kind != "hosted");
    Ok(content)
}

async fn create_repo(cx: &Ctx<'_>, r: &Repo, body: &Value, usable: &mut Vec<Repo>) {
    let path = format!("/repositories/{}/{}", path_format(&r.format), r.kind);
    if cx.args.dry_run {
        cx.report
            .item("repository", &r.name, Outcome::WouldCreate, "");
        usable.push(r.clone());
        return;
    }
    match cx
        .target
        .send_json(Method::POST, &format!("{V1}{path}"), body)
        .await
    {
        Ok(_) => {
            cx.report.item("repository", &r.name, Outcome::Created, "");
            usable.push(r.clone());
        }
        Err(e) => cx
            .report
            .item("repository", &r.name, Outcome::Failed, e.to_string()),
    }
}

/// Why a repository privilege cannot be created on the target: it names a format Arca does not
/// serve (its repositories were skipped too), which the target refuses.
fn privilege_not_taken(ty: &str, p: &Value) -> Option<String> {
    let format = str_of(p, "format");
    let repository = str_of(p, "repository");
    (ty.starts_with("repository-")
        && !format.is_empty()
        && format != "*"
        && !FORMATS.contains(&format)
        && !NOT_YET.contains(&format))
    .then(|| {
        format!(
            "grants {repository} of format {format}, which is not one Arca serves (its repositories are skipped)"
        )
    })
}

#[tracing::instrument(skip_all)]
async fn privileges(cx: &Ctx<'_>) -> Result<()> {
    let have = names(&cx.list(cx.target, "/security/privileges").await?, "name");
    for p in cx.list(cx.source, "/security/privileges").await? {
        let name = str_of(&p, "name").to_owned();
        if p.get("readOnly").and_then(|r| r.as_bool()) == Some(true) {
            continue; // built-in: both sides have their own
        }
        if have.contains(&name) {
            cx.report.item("privilege", &name, Outcome::Exists, "");
            continue;
        }
        let ty = str_of(&p, "type").to_owned();
        let mut body = p.clone();
        if let Some(o) = body.as_object_mut() {
            o.remove("readOnly");
            o.remove("type");
            o.retain(|_, v| !v.is_null());
        }
        if ty == "script" {
            cx.report.item(
                "privilege",
                &name,
                Outcome::Skipped,
                "script privileges grant nothing in Arca (no scripts)",
            );
            continue;
        }
        if let Some(why) = privilege_not_taken(&ty, &p) {
            cx.report.item("privilege", &name, Outcome::Skipped, why);
            continue;
        }
        cx.create(
            "privilege",
            &name,
            Method::POST,
            &format!("/security/privileges/{ty}"),
            &body,
        )
        .await;
    }
    Ok(())
}

#[tracing::instrument(skip_all)]
async fn roles(cx: &Ctx<'_>) -> Result<()> {
    let mut have = names(&cx.list(cx.target, "/security/roles").await?, "id");
    let mut pending: Vec<Value> = Vec::new();
    for r in cx.list(cx.source, "/security/roles").await? {
        let id = str_of(&r, "id").to_owned();
        if r.get("readOnly").and_then(|x| x.as_bool()) == Some(true) || have.contains(&id) {
            if have.contains(&id) && r.get("readOnly").and_then(|x| x.as_bool()) != Some(true) {
                cx.report.item("role", &id, Outcome::Exists, "");
            }
            continue;
        }
        if str_of(&r, "source") != "default" && !str_of(&r, "source").is_empty() {
            cx.report.item(
                "role",
                &id,
                Outcome::Skipped,
                format!(
                    "source {} (Arca has local roles only)",
                    str_of(&r, "source")
                ),
            );
            continue;
        }
        pending.push(r);
    }
    // Nested roles must exist first: create in passes, whatever is left last (a cycle, or a
    // role naming one that was not taken) is tried and reported.
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for r in pending {
            let nested: Vec<String> = r
                .get("roles")
                .and_then(|x| x.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if nested.iter().all(|n| have.contains(n)) {
                let id = str_of(&r, "id").to_owned();
                create_role(cx, &r).await;
                have.insert(id);
            } else {
                rest.push(r);
            }
        }
        if rest.len() == before {
            for r in &rest {
                create_role(cx, r).await;
            }
            break;
        }
        pending = rest;
    }
    Ok(())
}

async fn create_role(cx: &Ctx<'_>, r: &Value) {
    let id = str_of(r, "id");
    let body = json!({
        "id": id,
        "name": r.get("name"),
        "description": r.get("description"),
        "privileges": r.get("privileges").cloned().unwrap_or(json!([])),
        "roles": r.get("roles").cloned().unwrap_or(json!([])),
    });
    cx.create("role", id, Method::POST, "/security/roles", &body)
        .await;
}

pub fn random_password() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

#[tracing::instrument(skip_all)]
async fn users(cx: &Ctx<'_>) -> Result<()> {
    let have = names(&cx.list(cx.target, "/security/users").await?, "userId");
    let mut lines = String::new();
    for u in cx.list(cx.source, "/security/users").await? {
        let id = str_of(&u, "userId").to_owned();
        if id == "admin" || id == "anonymous" {
            continue; // the target's own
        }
        if have.contains(&id) {
            cx.report.item("user", &id, Outcome::Exists, "");
            continue;
        }
        let source = str_of(&u, "source");
        if !source.is_empty() && source != "default" {
            cx.report.item(
                "user",
                &id,
                Outcome::Skipped,
                format!("source {source} (Arca has local users only)"),
            );
            continue;
        }
        let password = random_password();
        // Nexus never reveals password hashes: a random one the user must change at first
        // sign-in, unless the account was not active anyway.
        let status = target_status(str_of(&u, "status"));
        let body = json!({
            "userId": id,
            "firstName": u.get("firstName"),
            "lastName": u.get("lastName"),
            "emailAddress": u.get("emailAddress"),
            "password": password,
            "status": status,
            "roles": u.get("roles").cloned().unwrap_or(json!([])),
        });
        if cx.args.dry_run {
            cx.report.item("user", &id, Outcome::WouldCreate, "");
            continue;
        }
        match cx
            .target
            .send_json(Method::POST, &format!("{V1}/security/users"), &body)
            .await
        {
            Ok(_) => {
                cx.report.item("user", &id, Outcome::Created, "");
                lines.push_str(&format!("{id}\t{password}\n"));
            }
            Err(e) => cx.report.item("user", &id, Outcome::Failed, e.to_string()),
        }
    }
    if !lines.is_empty() {
        write_private(&cx.args.users_password_file, &lines)?;
        cx.report.note(format!(
            "imported users got random passwords (Nexus never reveals password hashes), listed in {} (mode 0600); each must change it at first sign-in",
            cx.args.users_password_file.display()
        ));
    }
    Ok(())
}

/// An imported user's status on the target for its Nexus status (`active`, `locked`, `disabled`,
/// `changepassword`): an account that could not sign in stays so (a locked one is not unlocked by
/// the import); any other must change its random password at first sign-in.
fn target_status(nexus: &str) -> &'static str {
    match nexus {
        "disabled" => "disabled",
        "locked" => "locked",
        _ => "changepassword",
    }
}

/// Appends to a file only its owner can read (a second run adds the users it created).
fn write_private(path: &std::path::Path, text: &str) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    o.mode(0o600);
    let io = |source| ImportError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut f = o.open(path).map_err(io)?;
    // An existing file keeps its mode on open: make it the owner's before writing passwords.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(io)?;
    }
    f.write_all(text.as_bytes()).map_err(io)
}

#[tracing::instrument(skip_all)]
async fn anonymous(cx: &Ctx<'_>) -> Result<()> {
    let src: Value = cx
        .source
        .get_json(&format!("{V1}/security/anonymous"))
        .await?;
    let dst: Value = cx
        .target
        .get_json(&format!("{V1}/security/anonymous"))
        .await?;
    let on = src
        .get("enabled")
        .and_then(|e| e.as_bool())
        .unwrap_or(false);
    let name = if on { "enabled" } else { "disabled" };
    if dst.get("enabled").and_then(|e| e.as_bool()) == Some(on) {
        cx.report
            .item("anonymous access", name, Outcome::Exists, "");
        return Ok(());
    }
    let mut body = dst;
    body["enabled"] = json!(on);
    cx.create(
        "anonymous access",
        name,
        Method::PUT,
        "/security/anonymous",
        &body,
    )
    .await;
    Ok(())
}

/// Scripts cannot be taken (Arca runs none): listed so nobody looks for them.
async fn scripts(cx: &Ctx<'_>) {
    if let Ok(list) = cx.list(cx.source, "/script").await {
        for s in list {
            cx.report.item(
                "script",
                str_of(&s, "name"),
                Outcome::Skipped,
                "Arca runs no scripts",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_body_drops_server_fields() {
        let b = create_body(
            json!({"name":"r","format":"raw","type":"hosted","url":"http://x",
            "online":true,"routingRuleName":null,"storage":{"blobStoreName":"default"}}),
        );
        assert_eq!(
            b,
            json!({"name":"r","online":true,"storage":{"blobStoreName":"default"}})
        );
    }

    #[test]
    fn unsupported_settings_are_listed() {
        let b = json!({"name":"p","routingRuleName":null,"component":{"proprietaryComponents":true},
            "httpClient":{"authentication":{"type":"username","username":"u","password":null}},
            "docker":{"subdomain":null}});
        let fields: Vec<&str> = not_taken(&b).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "component.proprietaryComponents",
                "httpClient.authentication.password"
            ]
        );
        assert!(not_taken(&json!({"name":"plain"})).is_empty());
    }

    #[test]
    fn npm_firewall_settings_are_listed() {
        let b = json!({"name":"npm-proxy","npm":{"removeQuarantined":true,"removeNonCataloged":false},
            "firewall":{"mode":"QUARANTINE"}});
        let fields: Vec<&str> = not_taken(&b).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["npm.removeQuarantined", "firewall.mode"]);
        let off = json!({"name":"npm-proxy","npm":{"removeQuarantined":false},"firewall":{"mode":"DISABLED"}});
        assert!(not_taken(&off).is_empty());
        assert!(FORMATS.contains(&"npm") && !NOT_YET.contains(&"npm"));
    }

    /// Nexus 3.94's docker hosted shape: the settings Arca refuses are listed and taken out, the
    /// rest (httpPort, forceBasicAuth, a false v1Enabled) kept.
    #[test]
    fn docker_settings_arca_refuses_are_listed_and_dropped() {
        let mut b = create_body(
            json!({"name":"dock","format":"docker","type":"hosted","online":true,
            "storage":{"blobStoreName":"default","strictContentTypeValidation":true,"writePolicy":"ALLOW","latestPolicy":true},
            "docker":{"v1Enabled":true,"forceBasicAuth":true,"httpPort":8082,"httpsPort":8083,"subdomain":null,"pathEnabled":true}}),
        );
        let fields: Vec<&str> = not_taken(&b).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "docker.httpsPort",
                "docker.v1Enabled",
                "storage.latestPolicy"
            ]
        );
        drop_refused(&mut b);
        assert_eq!(
            b["docker"],
            json!({"v1Enabled":false,"forceBasicAuth":true,"httpPort":8082,"subdomain":null,"pathEnabled":true})
        );
        let mut off =
            json!({"docker":{"v1Enabled":false,"httpsPort":null},"storage":{"latestPolicy":false}});
        assert!(not_taken(&off).is_empty());
        drop_refused(&mut off);
        assert_eq!(off["docker"], json!({"v1Enabled":false}));
    }

    #[test]
    fn privileges_of_formats_arca_lacks_are_skipped() {
        let nuget = json!({"type":"repository-view","name":"nuget-read","format":"nuget",
            "repository":"nuget-hosted","actions":["READ"],"readOnly":false});
        let why = privilege_not_taken("repository-view", &nuget).unwrap();
        assert!(why.contains("nuget"), "{why}");
        for ok in [
            json!({"format":"raw","repository":"files"}),
            json!({"format":"*","repository":"*"}),
            json!({"format":"maven2","repository":"*"}),
        ] {
            assert_eq!(privilege_not_taken("repository-admin", &ok), None);
        }
        assert_eq!(
            privilege_not_taken("application", &json!({"domain":"search"})),
            None
        );
    }

    #[test]
    fn a_locked_or_disabled_user_stays_so() {
        assert_eq!(target_status("locked"), "locked");
        assert_eq!(target_status("disabled"), "disabled");
        assert_eq!(target_status("active"), "changepassword");
        assert_eq!(target_status("changepassword"), "changepassword");
    }

    #[test]
    fn maven_paths_say_maven() {
        assert_eq!(path_format("maven2"), "maven");
        assert_eq!(path_format("raw"), "raw");
    }

    #[test]
    fn hosted_before_proxy_before_group() {
        assert!(kind_rank("hosted") < kind_rank("proxy"));
        assert!(kind_rank("proxy") < kind_rank("group"));
    }

    #[test]
    fn random_passwords_differ() {
        let a = random_password();
        assert_eq!(a.len(), 24);
        assert_ne!(a, random_password());
    }
}
