//! Administration pages. They read through the same store functions the REST API reads, under
//! the same privileges; every change is made by the page's script through the REST API.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    Arca,
    meta::Db,
    security::{Action, Permission},
};
use askama::Template;

use super::{
    Chrome, Page, UiError,
    browse::{RepoRow, repo_row},
    human_bytes, render, when,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/ui/admin", web::get().to(system))
        .route("/ui/admin/repositories", web::get().to(repositories))
        .route("/ui/admin/repositories/new", web::get().to(new_repository))
        .route(
            "/ui/admin/repositories/{name}",
            web::get().to(edit_repository),
        )
        .route("/ui/admin/blobstores", web::get().to(blobstores))
        .route("/ui/admin/users", web::get().to(users))
        .route("/ui/admin/roles", web::get().to(roles))
        .route("/ui/admin/privileges", web::get().to(privileges))
        .route("/ui/admin/tasks", web::get().to(tasks))
        .route("/ui/admin/cleanup", web::get().to(cleanup))
        .route("/ui/admin/audit", web::get().to(audit));
}

const fn app(domain: &'static str, action: &'static str) -> Permission<'static> {
    Permission::App { domain, action }
}

const fn repo_admin(action: Action) -> Permission<'static> {
    Permission::RepoAdmin {
        format: "*",
        repo: "*",
        action,
    }
}

async fn admin_page(
    arca: &Arca,
    req: &HttpRequest,
    section: &'static str,
    perm: Permission<'_>,
) -> Result<Page, UiError> {
    let page = Page::of(arca, req, section).await?;
    page.require(req, &perm)?;
    Ok(page)
}

pub(crate) struct StoreRow {
    pub name: String,
    /// Components of the repositories on this store (at most a minute old).
    pub components: i64,
    pub kind: String,
    pub path: String,
    pub blobs: i64,
    pub size: String,
    pub repositories: i64,
    pub available: String,
    pub healthy: bool,
    /// Bytes the garbage collectors will free.
    pub reclaimable: String,
    /// The last collection that freed content of this store, in words.
    pub last_collection: String,
}

async fn store_rows(arca: &Arca) -> Result<Vec<StoreRow>, UiError> {
    let mut out = Vec::new();
    let repos = arca.db.list_repositories().await?;
    let stats = super::browse::stats(arca).await;
    for s in arca.db.list_blob_stores().await? {
        let components = repos
            .iter()
            .filter(|r| r.blob_store == s.name)
            .filter_map(|r| stats.get(&r.id).map(|(c, _, _)| *c))
            .sum();
        let (bytes, blobs) = arca
            .storage
            .usage(&s.name)
            .await
            .map_err(|e| UiError::Internal(e.to_string()))?;
        let repositories = arca.db.blob_store_repository_count(&s.name).await?;
        let (reclaimable, last) = arca.db.store_collection(&s.name).await?;
        let last_collection = last.map_or_else(
            || "never".to_owned(),
            |r| {
                format!(
                    "{}: {} deleted, {} freed ({} ms, {})",
                    when(r.finished_ms),
                    r.items,
                    human_bytes(r.bytes),
                    r.duration_ms,
                    r.scope
                )
            },
        );
        let (available, healthy) = match arca.storage.store(&s.name) {
            Ok(st) => (
                st.available_space().await.map(|b| human_bytes(b as i64)),
                st.healthy().await,
            ),
            Err(_) => (None, false),
        };
        out.push(StoreRow {
            components,
            kind: s.kind.clone(),
            path: if s.kind == "file" {
                s.path.clone()
            } else {
                serde_json::from_str::<serde_json::Value>(&s.attributes)
                    .ok()
                    .and_then(|v| {
                        v.pointer("/bucket/name")
                            .and_then(|b| b.as_str())
                            .map(|b| format!("s3://{b}"))
                    })
                    .unwrap_or_default()
            },
            name: s.name,
            blobs,
            size: human_bytes(bytes),
            repositories,
            available: available.unwrap_or_else(|| "—".into()),
            healthy,
            reclaimable: human_bytes(reclaimable),
            last_collection,
        });
    }
    Ok(out)
}

#[derive(Template)]
#[template(path = "admin_system.html")]
struct System {
    chrome: Chrome,
    version: &'static str,
    uptime: String,
    database: &'static str,
    database_ok: bool,
    stores: Vec<StoreRow>,
    frozen: Option<String>,
    anonymous: bool,
    repositories: usize,
}

fn duration(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

pub(crate) async fn system(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = admin_page(&arca, &req, "admin", app("settings", "read")).await?;
    let frozen = arca
        .storage
        .freeze
        .state()
        .await
        .map(|f| format!("frozen by {} at {}", f.by, when(f.at_ms)));
    Ok(render(&System {
        chrome: page.chrome,
        version: env!("CARGO_PKG_VERSION"),
        uptime: duration(arca.started.elapsed().as_secs()),
        database: match arca.db {
            Db::Sqlite(_) => "SQLite",
            Db::Pg(_) => "PostgreSQL",
        },
        database_ok: arca.db.ping().await.is_ok(),
        stores: store_rows(&arca).await?,
        frozen,
        anonymous: arca.security.anonymous_enabled().await.unwrap_or(false),
        repositories: arca.db.list_repositories().await?.len(),
    }))
}

#[derive(Template)]
#[template(path = "admin_repositories.html")]
struct Repositories {
    chrome: Chrome,
    repos: Vec<RepoRow>,
}

pub(crate) async fn repositories(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = admin_page(&arca, &req, "admin", repo_admin(Action::Read)).await?;
    let base = arca.settings.public.for_request(&req);
    let repos = arca
        .db
        .list_repositories()
        .await?
        .iter()
        .map(|r| repo_row(r, &base, None))
        .collect();
    Ok(render(&Repositories {
        chrome: page.chrome,
        repos,
    }))
}

pub(crate) struct FormatChoice {
    pub id: String,
    pub api: String,
    pub kinds: String,
}

/// A format's fieldset in the repository form (see `arca_core::settings_form`).
pub(crate) struct FormatBlock {
    pub format: String,
    /// Space-separated kinds; empty for all.
    pub types: String,
    pub legend: String,
    pub fields: Vec<FormatField>,
}

pub(crate) struct FormatField {
    pub name: String,
    pub label: String,
    /// (value, label); empty for a number.
    pub choices: Vec<(String, String)>,
    pub min: i64,
    pub max: i64,
    pub default: String,
}

fn format_blocks(arca: &Arca) -> Vec<FormatBlock> {
    use arca_core::settings_form::Input;
    let mut out = Vec::new();
    for f in arca.formats.all() {
        for b in f.settings_form() {
            let fields = b
                .fields
                .iter()
                .map(|field| {
                    let (choices, min, max, default) = match &field.input {
                        Input::Choice(c) => (
                            c.iter()
                                .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
                                .collect(),
                            0,
                            0,
                            String::new(),
                        ),
                        Input::Number { min, max, default } => (
                            Vec::new(),
                            *min,
                            *max,
                            default.map(|d| d.to_string()).unwrap_or_default(),
                        ),
                    };
                    FormatField {
                        name: field.name.to_owned(),
                        label: field.label.to_owned(),
                        choices,
                        min,
                        max,
                        default,
                    }
                })
                .collect();
            out.push(FormatBlock {
                format: f.id().to_owned(),
                types: b
                    .kinds
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                legend: b.legend.to_owned(),
                fields,
            });
        }
    }
    out
}

#[derive(Template)]
#[template(path = "admin_repository.html")]
struct RepositoryForm {
    format_blocks: Vec<FormatBlock>,
    chrome: Chrome,
    /// The repository being edited; empty for a new one.
    name: String,
    /// Its settings as the REST API answers them (`null` for a new one), for the script.
    data: String,
    formats: Vec<FormatChoice>,
    blob_stores: Vec<String>,
    /// `name format` of every repository, for group members.
    members: Vec<(String, String)>,
}

async fn repository_form(
    arca: &Arca,
    page: Page,
    name: String,
    data: String,
) -> Result<HttpResponse, UiError> {
    let formats = arca
        .formats
        .all()
        .iter()
        .map(|f| FormatChoice {
            id: f.id().to_owned(),
            api: f.api_name().to_owned(),
            kinds: f
                .kinds()
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    let blob_stores = arca
        .db
        .list_blob_stores()
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let members = arca
        .db
        .list_repositories()
        .await?
        .into_iter()
        .filter(|r| r.name.as_str() != name)
        .map(|r| (r.name.to_string(), r.format))
        .collect();
    Ok(render(&RepositoryForm {
        format_blocks: format_blocks(arca),
        chrome: page.chrome,
        name,
        data,
        formats,
        blob_stores,
        members,
    }))
}

pub(crate) async fn new_repository(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = admin_page(&arca, &req, "admin", repo_admin(Action::Add)).await?;
    repository_form(&arca, page, String::new(), "null".into()).await
}

pub(crate) async fn edit_repository(
    req: HttpRequest,
    arca: web::Data<Arca>,
    name: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let page = Page::of(&arca, &req, "admin").await?;
    let repo = arca.db.get_repository(&name).await?;
    page.require(
        &req,
        &Permission::RepoAdmin {
            format: &repo.format,
            repo: repo.name.as_str(),
            action: Action::Read,
        },
    )?;
    let base = arca.settings.public.for_request(&req);
    let data = crate::api::repositories::detail(&arca, &repo, &base);
    // Inside a <script> element: `</` must not close it.
    let data = data.to_string().replace("</", "<\\/");
    repository_form(&arca, page, name.into_inner(), data).await
}

#[derive(Template)]
#[template(path = "admin_blobstores.html")]
struct Blobstores {
    chrome: Chrome,
    stores: Vec<StoreRow>,
}

pub(crate) async fn blobstores(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = admin_page(&arca, &req, "admin", app("blobstores", "read")).await?;
    Ok(render(&Blobstores {
        chrome: page.chrome,
        stores: store_rows(&arca).await?,
    }))
}

pub(crate) struct UserRow {
    pub id: String,
    pub name: String,
    pub email: String,
    pub status: String,
    pub roles: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct Users {
    chrome: Chrome,
    users: Vec<UserRow>,
    roles: Vec<String>,
}

pub(crate) async fn users(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = admin_page(&arca, &req, "admin", app("users", "read")).await?;
    let users = arca
        .db
        .list_users()
        .await?
        .into_iter()
        .map(|u| UserRow {
            name: format!("{} {}", u.first_name, u.last_name)
                .trim()
                .to_owned(),
            id: u.user_id,
            email: u.email,
            status: u.status,
            roles: u.roles.join(", "),
        })
        .collect();
    let roles = arca
        .db
        .list_roles()
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    Ok(render(&Users {
        chrome: page.chrome,
        users,
        roles,
    }))
}

pub(crate) struct RoleRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub privileges: String,
    pub roles: String,
    pub read_only: bool,
}

#[derive(Template)]
#[template(path = "admin_roles.html")]
struct Roles {
    chrome: Chrome,
    roles: Vec<RoleRow>,
    privileges: Vec<String>,
    role_ids: Vec<String>,
}

async fn privilege_rows(arca: &Arca) -> Result<Vec<PrivilegeRow>, UiError> {
    let repos: Vec<(String, String)> = arca
        .db
        .list_repositories()
        .await?
        .into_iter()
        .map(|r| (r.format, r.name.to_string()))
        .collect();
    let formats: Vec<&str> = arca.formats.all().iter().map(|f| f.id()).collect();
    let mut out: Vec<PrivilegeRow> = arca_core::privilege::builtin(&repos, &formats)
        .into_iter()
        .map(|(name, kind, description, _)| PrivilegeRow {
            name,
            kind: kind.to_owned(),
            description,
            read_only: true,
        })
        .collect();
    out.extend(
        arca.db
            .list_privileges()
            .await?
            .into_iter()
            .map(|p| PrivilegeRow {
                name: p.name,
                kind: p.kind,
                description: p.description,
                read_only: false,
            }),
    );
    Ok(out)
}

pub(crate) async fn roles(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = admin_page(&arca, &req, "admin", app("roles", "read")).await?;
    let all = arca.db.list_roles().await?;
    let role_ids = all.iter().map(|r| r.id.clone()).collect();
    let roles = all
        .into_iter()
        .map(|r| RoleRow {
            id: r.id,
            name: r.name,
            description: r.description,
            privileges: r.privileges.join(", "),
            roles: r.roles.join(", "),
            read_only: r.read_only,
        })
        .collect();
    let privileges = privilege_rows(&arca)
        .await?
        .into_iter()
        .map(|p| p.name)
        .collect();
    Ok(render(&Roles {
        chrome: page.chrome,
        roles,
        privileges,
        role_ids,
    }))
}

pub(crate) struct PrivilegeRow {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub read_only: bool,
}

#[derive(Template)]
#[template(path = "admin_privileges.html")]
struct Privileges {
    chrome: Chrome,
    privileges: Vec<PrivilegeRow>,
}

pub(crate) async fn privileges(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = admin_page(&arca, &req, "admin", app("privileges", "read")).await?;
    Ok(render(&Privileges {
        chrome: page.chrome,
        privileges: privilege_rows(&arca).await?,
    }))
}

pub(crate) struct TaskView {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub schedule: String,
    pub enabled: bool,
    pub last_run: String,
    pub last_result: String,
    pub failed: bool,
    pub next_run: String,
    /// Arca's own task of its type: it can be disabled, not deleted.
    pub builtin: bool,
}

/// A property input of the new-task form: the types that take it.
pub(crate) struct FieldView {
    pub id: String,
    pub label: String,
    pub help: String,
    pub types: String,
}

#[derive(Template)]
#[template(path = "admin_tasks.html")]
struct Tasks {
    chrome: Chrome,
    tasks: Vec<TaskView>,
    /// (type id, name) of every task type.
    types: Vec<(String, String)>,
    fields: Vec<FieldView>,
}

pub(crate) async fn tasks(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = admin_page(&arca, &req, "admin", app("tasks", "read")).await?;
    let all = arca_core::task_types::all(&arca);
    let tasks = arca
        .db
        .list_tasks()
        .await?
        .into_iter()
        .map(|t| {
            let settings = arca_core::task_types::TaskSettings::parse(&t.attributes);
            let f = &settings.frequency;
            let schedule = match f.schedule.as_str() {
                "cron" => format!("cron {}", f.cron_expression.as_deref().unwrap_or_default()),
                "" => t.schedule.clone(),
                other => other.to_owned(),
            };
            TaskView {
                failed: t
                    .last_result
                    .as_deref()
                    .is_some_and(|r| r.starts_with("FAILED")),
                builtin: all.iter().any(|k| k.builtin.is_some_and(|b| b.id == t.id)),
                name: t.name,
                kind: t.type_id,
                schedule,
                enabled: t.enabled,
                last_run: t.last_run_ms.map(when).unwrap_or_else(|| "never".into()),
                last_result: t.last_result.unwrap_or_default(),
                next_run: t
                    .next_run_ms
                    .filter(|n| *n != arca_core::schedule::NEVER && t.enabled)
                    .map(when)
                    .unwrap_or_else(|| "—".into()),
                id: t.id,
            }
        })
        .collect();
    let mut fields: Vec<FieldView> = Vec::new();
    for t in &all {
        for f in t.fields {
            match fields.iter_mut().find(|v| v.id == f.id) {
                Some(v) => v.types = format!("{}, {}", v.types, t.type_id),
                None => fields.push(FieldView {
                    id: f.id.into(),
                    label: f.label.into(),
                    help: f.help.into(),
                    types: t.type_id.into(),
                }),
            }
        }
    }
    Ok(render(&Tasks {
        chrome: page.chrome,
        tasks,
        types: all
            .iter()
            .map(|t| (t.type_id.to_owned(), t.name.to_owned()))
            .collect(),
        fields,
    }))
}

pub(crate) struct AuditRow {
    pub when: String,
    pub actor: String,
    pub ip: String,
    pub domain: String,
    pub kind: String,
    pub context: String,
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct Audit {
    chrome: Chrome,
    events: Vec<AuditRow>,
}

pub(crate) async fn audit(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = admin_page(&arca, &req, "admin", app("audit", "read")).await?;
    let events = arca
        .db
        .list_audit(i64::MAX, 200)
        .await?
        .into_iter()
        .map(|e| AuditRow {
            when: when(e.ts_ms),
            actor: e.actor,
            ip: e.remote_ip.unwrap_or_default(),
            domain: e.domain,
            kind: e.kind,
            context: e.context,
        })
        .collect();
    Ok(render(&Audit {
        chrome: page.chrome,
        events,
    }))
}

pub(crate) struct PolicyRow {
    pub name: String,
    pub format: String,
    pub notes: String,
    pub criteria: String,
    pub used_by: String,
}

#[derive(Template)]
#[template(path = "admin_cleanup.html")]
struct Cleanup {
    chrome: Chrome,
    policies: Vec<PolicyRow>,
    formats: Vec<String>,
    repositories: Vec<String>,
}

/// Cleanup policies: what each deletes, who uses it; create, preview on a repository, delete.
pub(crate) async fn cleanup(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = admin_page(&arca, &req, "admin", app("settings", "read")).await?;
    let repos = arca.db.list_repositories().await?;
    let policies = arca
        .db
        .list_cleanup_policies()
        .await?
        .into_iter()
        .map(|p| {
            let c: arca_core::cleanup::Criteria =
                serde_json::from_str(&p.criteria).unwrap_or_default();
            let mut parts = Vec::new();
            if let Some(d) = c.last_blob_updated {
                parts.push(format!("written over {d} days ago"));
            }
            if let Some(d) = c.last_downloaded {
                parts.push(format!("not downloaded for {d} days"));
            }
            if let Some(t) = &c.release_type {
                parts.push(t.to_lowercase());
            }
            if let Some(r) = &c.asset_regex {
                parts.push(format!("a path matching {r}"));
            }
            let used_by: Vec<String> = repos
                .iter()
                .filter(|r| arca_core::cleanup::policy_names(r).contains(&p.name))
                .map(|r| r.name.to_string())
                .collect();
            PolicyRow {
                criteria: parts.join(", "),
                used_by: used_by.join(", "),
                name: p.name,
                format: p.format,
                notes: p.notes,
            }
        })
        .collect();
    let mut formats: Vec<String> = arca
        .formats
        .all()
        .iter()
        .map(|f| f.id().to_owned())
        .collect();
    formats.sort();
    Ok(render(&Cleanup {
        chrome: page.chrome,
        policies,
        formats,
        repositories: repos.iter().map(|r| r.name.to_string()).collect(),
    }))
}
