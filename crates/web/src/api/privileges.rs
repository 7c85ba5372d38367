//! `security/privileges` (Nexus's typed privileges) and `security/content-selectors`.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    Arca,
    auth::Guard,
    csel::Selector,
    meta::{ContentSelectorRow, MetaError, PrivilegeRow},
    privilege::{self, Properties},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{
    PrivilegesCreate, PrivilegesDelete, PrivilegesRead, PrivilegesUpdate, SelectorsCreate,
    SelectorsDelete, SelectorsRead, SelectorsUpdate, audit, users::required,
};
use crate::{ApiError, error::ValidationErrorXO};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/security/privileges", web::get().to(list_privileges))
        .route(
            "/security/privileges/application",
            web::post().to(create_application),
        )
        .route(
            "/security/privileges/application/{name}",
            web::put().to(update_application),
        )
        .route(
            "/security/privileges/repository-view",
            web::post().to(create_repository_view),
        )
        .route(
            "/security/privileges/repository-view/{name}",
            web::put().to(update_repository_view),
        )
        .route(
            "/security/privileges/repository-admin",
            web::post().to(create_repository_admin),
        )
        .route(
            "/security/privileges/repository-admin/{name}",
            web::put().to(update_repository_admin),
        )
        .route(
            "/security/privileges/repository-content-selector",
            web::post().to(create_repository_content_selector),
        )
        .route(
            "/security/privileges/repository-content-selector/{name}",
            web::put().to(update_repository_content_selector),
        )
        .route(
            "/security/privileges/wildcard",
            web::post().to(create_wildcard),
        )
        .route("/security/privileges/script", web::post().to(create_script))
        .route(
            "/security/privileges/script/{name}",
            web::put().to(update_script),
        )
        .route(
            "/security/privileges/wildcard/{name}",
            web::put().to(update_wildcard),
        )
        .route("/security/privileges/{name}", web::get().to(get_privilege))
        .route(
            "/security/privileges/{name}",
            web::delete().to(delete_privilege),
        )
        .route("/security/content-selectors", web::get().to(list_selectors))
        .route(
            "/security/content-selectors",
            web::post().to(create_selector),
        )
        .route(
            "/security/content-selectors/{name}",
            web::get().to(get_selector),
        )
        .route(
            "/security/content-selectors/{name}",
            web::put().to(update_selector),
        )
        .route(
            "/security/content-selectors/{name}",
            web::delete().to(delete_selector),
        );
}

/// Nexus's `ApiPrivilegeRequest`, the shape both GETs answer with.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiPrivilegeRequest {
    #[schema(example = "repository-view")]
    r#type: String,
    name: String,
    description: String,
    read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_selector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actions: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    script_name: Option<String>,
}

impl ApiPrivilegeRequest {
    fn new(name: String, kind: &str, description: String, read_only: bool, p: Properties) -> Self {
        Self {
            r#type: kind.to_owned(),
            name,
            description,
            read_only,
            domain: p.domain,
            format: p.format,
            repository: p.repository,
            content_selector: p.content_selector,
            pattern: p.pattern,
            actions: p.actions,
            script_name: p.script_name,
        }
    }
}

/// Nexus's privilege actions.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum PrivilegeAction {
    Read,
    Browse,
    Edit,
    Add,
    Delete,
    Run,
    Start,
    Stop,
    Associate,
    Disassociate,
    Create,
    Update,
    All,
}

impl PrivilegeAction {
    fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
    fn for_repository(self) -> bool {
        matches!(
            self,
            Self::Read | Self::Browse | Self::Edit | Self::Add | Self::Delete | Self::All
        )
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiPrivilegeApplicationRequest {
    name: Option<String>,
    #[serde(default)]
    description: String,
    /// An application domain such as `blobstores`, `users` or `tasks`.
    domain: Option<String>,
    #[serde(default)]
    actions: Vec<PrivilegeAction>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiPrivilegeRepositoryViewRequest {
    name: Option<String>,
    #[serde(default)]
    description: String,
    /// A format (`maven2`, `pypi`, …) or `*`.
    format: Option<String>,
    /// A repository name or `*`.
    repository: Option<String>,
    #[serde(default)]
    actions: Vec<PrivilegeAction>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiPrivilegeRepositoryAdminRequest {
    name: Option<String>,
    #[serde(default)]
    description: String,
    format: Option<String>,
    repository: Option<String>,
    #[serde(default)]
    actions: Vec<PrivilegeAction>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiPrivilegeRepositoryContentSelectorRequest {
    name: Option<String>,
    #[serde(default)]
    description: String,
    format: Option<String>,
    repository: Option<String>,
    /// The content selector's name.
    content_selector: Option<String>,
    #[serde(default)]
    actions: Vec<PrivilegeAction>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiPrivilegeWildcardRequest {
    name: Option<String>,
    #[serde(default)]
    description: String,
    /// A permission string such as `nexus:repository-view:maven2:*:read`.
    pattern: Option<String>,
}

/// Nexus's `ApiPrivilegeScriptRequest`. Arca runs no scripts (see `/v1/script`), so such a
/// privilege is kept for tools that create it but grants nothing.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiPrivilegeScriptRequest {
    name: Option<String>,
    #[serde(default)]
    description: String,
    /// The script the privilege is for.
    script_name: Option<String>,
    #[serde(default)]
    actions: Vec<PrivilegeAction>,
}

/// A typed request reduced to what is stored.
struct Draft {
    name: Option<String>,
    description: String,
    props: Properties,
    actions: Vec<PrivilegeAction>,
}

fn actions_of(actions: &[PrivilegeAction], repository: bool) -> Result<Vec<String>, ApiError> {
    if actions.is_empty() {
        return Err(ApiError::invalid(
            "PARAMETER actions",
            "at least one action is required",
        ));
    }
    if repository && let Some(a) = actions.iter().find(|a| !a.for_repository()) {
        return Err(ApiError::invalid(
            "PARAMETER actions",
            format!(
                "{} is no repository action (BROWSE, READ, EDIT, ADD, DELETE or ALL)",
                a.name()
            ),
        ));
    }
    Ok(actions.iter().map(|a| a.name()).collect())
}

/// The name rule Nexus applies to privileges and content selectors.
fn valid_name(name: &str) -> bool {
    let mut c = name.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphanumeric() || f == '-')
        && c.all(|x| x.is_ascii_alphanumeric() || matches!(x, '_' | '-' | '.'))
}

fn checked_name(name: &Option<String>) -> Result<String, ApiError> {
    let name = required(name, "name")?;
    if !valid_name(name) {
        return Err(ApiError::invalid(
            "PARAMETER name",
            "only letters, digits, '_', '-' and '.' are allowed, and no leading '_' or '.'",
        ));
    }
    Ok(name.to_owned())
}

async fn repository_target(
    arca: &Arca,
    format: &Option<String>,
    repository: &Option<String>,
) -> Result<(String, String), ApiError> {
    let format = required(format, "format")?.to_owned();
    let repository = required(repository, "repository")?.to_owned();
    if format != "*" && arca.formats.get(&format).is_none() {
        return Err(ApiError::invalid(
            "PARAMETER format",
            format!("unknown format {format}"),
        ));
    }
    if repository != "*" {
        match arca.db.get_repository(&repository).await {
            Ok(r) if format == "*" || r.format == format => {}
            Ok(r) => {
                return Err(ApiError::invalid(
                    "PARAMETER repository",
                    format!(
                        "repository {repository} has format {}, not {format}",
                        r.format
                    ),
                ));
            }
            Err(MetaError::NotFound) => {
                return Err(ApiError::invalid(
                    "PARAMETER repository",
                    format!("repository {repository} does not exist"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok((format, repository))
}

/// Validates a draft of `kind` into the row to store.
async fn validate(
    arca: &Arca,
    kind: &str,
    d: Draft,
    name: String,
) -> Result<PrivilegeRow, ApiError> {
    let mut props = d.props;
    match kind {
        "application" => {
            let domain = required(&props.domain, "domain")?;
            if !domain
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '*')
            {
                return Err(ApiError::invalid(
                    "PARAMETER domain",
                    "a domain is lower-case letters, digits and '-', or '*'",
                ));
            }
            props.actions = Some(actions_of(&d.actions, false)?);
        }
        "repository-view" | "repository-admin" | "repository-content-selector" => {
            let (f, r) = repository_target(arca, &props.format, &props.repository).await?;
            props.format = Some(f);
            props.repository = Some(r);
            props.actions = Some(actions_of(&d.actions, true)?);
            if kind == "repository-content-selector" {
                let sel = required(&props.content_selector, "contentSelector")?;
                match arca.db.get_content_selector(sel).await {
                    Ok(_) => {}
                    Err(MetaError::NotFound) => {
                        return Err(ApiError::invalid(
                            "PARAMETER contentSelector",
                            format!("content selector {sel} does not exist"),
                        ));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        "script" => {
            let script = required(&props.script_name, "scriptName")?;
            if !valid_name(script) {
                return Err(ApiError::invalid(
                    "PARAMETER scriptName",
                    "only letters, digits, '_', '-' and '.' are allowed, and no leading '_' or '.'",
                ));
            }
            if let Some(a) = d.actions.iter().find(|a| {
                !matches!(
                    a,
                    PrivilegeAction::Browse
                        | PrivilegeAction::Read
                        | PrivilegeAction::Edit
                        | PrivilegeAction::Add
                        | PrivilegeAction::Delete
                        | PrivilegeAction::Run
                        | PrivilegeAction::All
                )
            }) {
                return Err(ApiError::invalid(
                    "PARAMETER actions",
                    format!(
                        "{} is no script action (BROWSE, READ, EDIT, ADD, DELETE, RUN or ALL)",
                        a.name()
                    ),
                ));
            }
            props.actions = Some(actions_of(&d.actions, false)?);
        }
        _ => {
            let pattern = required(&props.pattern, "pattern")?;
            if privilege::wildcard_patterns(pattern).is_none() {
                return Err(ApiError::invalid(
                    "PARAMETER pattern",
                    "expected nexus:<domain>[:<actions>], nexus:repository-view:<format>:<repository>[:<actions>] or nexus:*",
                ));
            }
        }
    }
    Ok(PrivilegeRow {
        name,
        kind: kind.to_owned(),
        description: d.description,
        properties: serde_json::to_string(&props).map_err(MetaError::from)?,
    })
}

async fn builtins(arca: &Arca) -> Result<Vec<ApiPrivilegeRequest>, ApiError> {
    let repos: Vec<(String, String)> = arca
        .db
        .list_repositories()
        .await?
        .into_iter()
        .map(|r| (r.format, r.name.to_string()))
        .collect();
    let formats: Vec<&str> = arca.formats.all().iter().map(|f| f.id()).collect();
    Ok(privilege::builtin(&repos, &formats)
        .into_iter()
        .map(|(name, kind, desc, p)| ApiPrivilegeRequest::new(name, kind, desc, true, p))
        .collect())
}

/// The error for a privilege not stored: 400 for a built-in one (read-only), else 404.
async fn unknown_or_builtin(arca: &Arca, name: &str) -> ApiError {
    match builtins(arca).await {
        Ok(b) if b.iter().any(|p| p.name == name) => ApiError::invalid(
            "PARAMETER privilegeName",
            format!("privilege {name} is built in and read-only"),
        ),
        Ok(_) => ApiError::NotFound(format!("Privilege '{name}' not found")),
        Err(e) => e,
    }
}

fn stored(r: PrivilegeRow) -> ApiPrivilegeRequest {
    let p: Properties = serde_json::from_str(&r.properties).unwrap_or_default();
    ApiPrivilegeRequest::new(r.name, &r.kind, r.description, false, p)
}

/// List privileges: the built-in ones and those created through this API.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/privileges",
    tag = "Security management: privileges",
    responses(
        (status = 200, description = "All privileges", body = Vec<ApiPrivilegeRequest>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn list_privileges(
    arca: web::Data<Arca>,
    _g: Guard<PrivilegesRead>,
) -> Result<HttpResponse, ApiError> {
    let mut out = builtins(&arca).await?;
    out.extend(arca.db.list_privileges().await?.into_iter().map(stored));
    Ok(HttpResponse::Ok().json(out))
}

/// Get a privilege by name.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/privileges/{privilegeName}",
    tag = "Security management: privileges",
    params(("privilegeName" = String, Path, description = "The privilege's name")),
    responses(
        (status = 200, description = "The privilege", body = ApiPrivilegeRequest),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such privilege"),
    ),
)]
pub(crate) async fn get_privilege(
    arca: web::Data<Arca>,
    _g: Guard<PrivilegesRead>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match arca.db.get_privilege(&name).await {
        Ok(r) => return Ok(HttpResponse::Ok().json(stored(r))),
        Err(MetaError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    builtins(&arca)
        .await?
        .into_iter()
        .find(|p| p.name == *name)
        .map(|p| HttpResponse::Ok().json(p))
        .ok_or_else(|| ApiError::NotFound(format!("Privilege '{name}' not found")))
}

/// Delete a privilege (not a built-in one).
#[utoipa::path(
    delete,
    path = "/service/rest/v1/security/privileges/{privilegeName}",
    tag = "Security management: privileges",
    params(("privilegeName" = String, Path, description = "The privilege's name")),
    responses(
        (status = 204, description = "Privilege deleted"),
        (status = 400, description = "The privilege is built in", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such privilege"),
    ),
)]
pub(crate) async fn delete_privilege(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<PrivilegesDelete>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match arca.db.delete_privilege(&name).await {
        Ok(()) => {}
        Err(MetaError::NotFound) => {
            return Err(unknown_or_builtin(&arca, &name).await);
        }
        Err(e) => return Err(e.into()),
    }
    arca.security.invalidate();
    audit(
        &arca,
        &req,
        &g.subject,
        "security.privilege",
        "deleted",
        &name,
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

async fn create(
    arca: &Arca,
    req: &HttpRequest,
    who: &arca_core::security::Subject,
    kind: &str,
    d: Draft,
) -> Result<HttpResponse, ApiError> {
    let name = checked_name(&d.name)?;
    if name.starts_with("nx-") {
        return Err(ApiError::invalid(
            "PARAMETER name",
            "names starting with nx- are reserved for built-in privileges",
        ));
    }
    let row = validate(arca, kind, d, name.clone()).await?;
    match arca.db.create_privilege(&row).await {
        Ok(()) => {}
        Err(MetaError::Conflict(_)) => {
            return Err(ApiError::invalid(
                "PARAMETER name",
                format!("privilege {name} already exists"),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    arca.security.invalidate();
    let attrs = json!({ "type": kind, "properties": row.properties });
    audit(
        arca,
        req,
        who,
        "security.privilege",
        "created",
        &name,
        attrs,
    )
    .await;
    Ok(HttpResponse::Created().finish())
}

async fn update(
    arca: &Arca,
    req: &HttpRequest,
    who: &arca_core::security::Subject,
    kind: &str,
    name: String,
    d: Draft,
) -> Result<HttpResponse, ApiError> {
    match arca.db.get_privilege(&name).await {
        Ok(r) if r.kind == kind => {}
        Ok(r) => {
            return Err(ApiError::invalid(
                "PARAMETER privilegeName",
                format!("privilege {name} is of type {}, not {kind}", r.kind),
            ));
        }
        Err(MetaError::NotFound) => {
            return Err(unknown_or_builtin(arca, &name).await);
        }
        Err(e) => return Err(e.into()),
    }
    if d.name.as_deref().is_some_and(|n| n != name) {
        return Err(ApiError::invalid(
            "PARAMETER name",
            "a privilege's name cannot be changed",
        ));
    }
    let row = validate(arca, kind, d, name.clone()).await?;
    arca.db.update_privilege(&row).await?;
    arca.security.invalidate();
    let attrs = json!({ "type": kind, "properties": row.properties });
    audit(
        arca,
        req,
        who,
        "security.privilege",
        "updated",
        &name,
        attrs,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

macro_rules! typed_endpoints {
    ($kind:literal, $body:ty, $create:ident, $update:ident, $create_path:literal, $update_path:literal, |$b:ident| $draft:expr) => {
        /// Create a privilege of this type.
        #[utoipa::path(
            post,
            path = $create_path,
            tag = "Security management: privileges",
            request_body = $body,
            responses(
                (status = 201, description = "Privilege created"),
                (status = 400, description = "A field is missing or wrong", body = Vec<ValidationErrorXO>),
                (status = 401, description = "Authentication required"),
                (status = 403, description = "Insufficient permissions"),
            ),
        )]
        pub(crate) async fn $create(
            req: HttpRequest,
            arca: web::Data<Arca>,
            g: Guard<PrivilegesCreate>,
            body: web::Json<$body>,
        ) -> Result<HttpResponse, ApiError> {
            let $b = body.into_inner();
            create(&arca, &req, &g.subject, $kind, $draft).await
        }

        /// Update a privilege of this type.
        #[utoipa::path(
            put,
            path = $update_path,
            tag = "Security management: privileges",
            params(("privilegeName" = String, Path, description = "The privilege's name")),
            request_body = $body,
            responses(
                (status = 204, description = "Privilege updated"),
                (status = 400, description = "A field is wrong, or the privilege is built in", body = Vec<ValidationErrorXO>),
                (status = 401, description = "Authentication required"),
                (status = 403, description = "Insufficient permissions"),
                (status = 404, description = "No such privilege"),
            ),
        )]
        pub(crate) async fn $update(
            req: HttpRequest,
            arca: web::Data<Arca>,
            g: Guard<PrivilegesUpdate>,
            name: web::Path<String>,
            body: web::Json<$body>,
        ) -> Result<HttpResponse, ApiError> {
            let $b = body.into_inner();
            update(&arca, &req, &g.subject, $kind, name.into_inner(), $draft).await
        }
    };
}

typed_endpoints!(
    "application",
    ApiPrivilegeApplicationRequest,
    create_application,
    update_application,
    "/service/rest/v1/security/privileges/application",
    "/service/rest/v1/security/privileges/application/{privilegeName}",
    |b| Draft {
        name: b.name,
        description: b.description,
        props: Properties {
            domain: b.domain,
            ..Default::default()
        },
        actions: b.actions,
    }
);

typed_endpoints!(
    "repository-view",
    ApiPrivilegeRepositoryViewRequest,
    create_repository_view,
    update_repository_view,
    "/service/rest/v1/security/privileges/repository-view",
    "/service/rest/v1/security/privileges/repository-view/{privilegeName}",
    |b| Draft {
        name: b.name,
        description: b.description,
        props: Properties {
            format: b.format,
            repository: b.repository,
            ..Default::default()
        },
        actions: b.actions,
    }
);

typed_endpoints!(
    "repository-admin",
    ApiPrivilegeRepositoryAdminRequest,
    create_repository_admin,
    update_repository_admin,
    "/service/rest/v1/security/privileges/repository-admin",
    "/service/rest/v1/security/privileges/repository-admin/{privilegeName}",
    |b| Draft {
        name: b.name,
        description: b.description,
        props: Properties {
            format: b.format,
            repository: b.repository,
            ..Default::default()
        },
        actions: b.actions,
    }
);

typed_endpoints!(
    "repository-content-selector",
    ApiPrivilegeRepositoryContentSelectorRequest,
    create_repository_content_selector,
    update_repository_content_selector,
    "/service/rest/v1/security/privileges/repository-content-selector",
    "/service/rest/v1/security/privileges/repository-content-selector/{privilegeName}",
    |b| Draft {
        name: b.name,
        description: b.description,
        props: Properties {
            format: b.format,
            repository: b.repository,
            content_selector: b.content_selector,
            ..Default::default()
        },
        actions: b.actions,
    }
);

typed_endpoints!(
    "wildcard",
    ApiPrivilegeWildcardRequest,
    create_wildcard,
    update_wildcard,
    "/service/rest/v1/security/privileges/wildcard",
    "/service/rest/v1/security/privileges/wildcard/{privilegeName}",
    |b| Draft {
        name: b.name,
        description: b.description,
        props: Properties {
            pattern: b.pattern,
            ..Default::default()
        },
        actions: vec![],
    }
);

typed_endpoints!(
    "script",
    ApiPrivilegeScriptRequest,
    create_script,
    update_script,
    "/service/rest/v1/security/privileges/script",
    "/service/rest/v1/security/privileges/script/{privilegeName}",
    |b| Draft {
        name: b.name,
        description: b.description,
        props: Properties {
            script_name: b.script_name,
            ..Default::default()
        },
        actions: b.actions,
    }
);

/// Nexus's `ContentSelectorApiResponse`.
#[derive(Serialize, ToSchema)]
pub(crate) struct ContentSelectorApiResponse {
    name: String,
    /// Always `csel`.
    r#type: String,
    description: String,
    expression: String,
}

impl From<ContentSelectorRow> for ContentSelectorApiResponse {
    fn from(r: ContentSelectorRow) -> Self {
        Self {
            name: r.name,
            r#type: "csel".into(),
            description: r.description,
            expression: r.expression,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct ContentSelectorApiCreateRequest {
    name: Option<String>,
    #[serde(default)]
    description: String,
    /// A CSEL expression over `format` and `path`, e.g. `format == "maven2" and path =^ "/org/example/"`.
    expression: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub(crate) struct ContentSelectorApiUpdateRequest {
    #[serde(default)]
    description: String,
    expression: Option<String>,
}

fn checked_expression(e: &Option<String>) -> Result<String, ApiError> {
    let e = required(e, "expression")?;
    Selector::parse(e).map_err(|err| ApiError::invalid("PARAMETER expression", err.to_string()))?;
    Ok(e.to_owned())
}

/// List content selectors.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/content-selectors",
    tag = "Content selectors",
    responses(
        (status = 200, description = "All content selectors", body = Vec<ContentSelectorApiResponse>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn list_selectors(
    arca: web::Data<Arca>,
    _g: Guard<SelectorsRead>,
) -> Result<HttpResponse, ApiError> {
    let out: Vec<ContentSelectorApiResponse> = arca
        .db
        .list_content_selectors()
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Get a content selector.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/content-selectors/{name}",
    tag = "Content selectors",
    params(("name" = String, Path, description = "The content selector's name")),
    responses(
        (status = 200, description = "The content selector", body = ContentSelectorApiResponse),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such content selector"),
    ),
)]
pub(crate) async fn get_selector(
    arca: web::Data<Arca>,
    _g: Guard<SelectorsRead>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match arca.db.get_content_selector(&name).await {
        Ok(r) => Ok(HttpResponse::Ok().json(ContentSelectorApiResponse::from(r))),
        Err(MetaError::NotFound) => Err(ApiError::NotFound(format!(
            "Content selector '{name}' not found"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Create a content selector.
#[utoipa::path(
    post,
    path = "/service/rest/v1/security/content-selectors",
    tag = "Content selectors",
    request_body = ContentSelectorApiCreateRequest,
    responses(
        (status = 204, description = "Content selector created"),
        (status = 400, description = "A field is missing or wrong, or the name is taken", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn create_selector(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SelectorsCreate>,
    body: web::Json<ContentSelectorApiCreateRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = checked_name(&body.name)?;
    let expression = checked_expression(&body.expression)?;
    let row = ContentSelectorRow {
        name: name.clone(),
        description: body.description.clone(),
        expression: expression.clone(),
    };
    match arca.db.create_content_selector(&row).await {
        Ok(()) => {}
        Err(MetaError::Conflict(_)) => {
            return Err(ApiError::invalid(
                "PARAMETER name",
                format!("content selector {name} already exists"),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    arca.security.invalidate();
    let attrs = json!({ "expression": expression });
    audit(
        &arca,
        &req,
        &g.subject,
        "security.selector",
        "created",
        &name,
        attrs,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Update a content selector's expression and description.
#[utoipa::path(
    put,
    path = "/service/rest/v1/security/content-selectors/{name}",
    tag = "Content selectors",
    params(("name" = String, Path, description = "The content selector's name")),
    request_body = ContentSelectorApiUpdateRequest,
    responses(
        (status = 204, description = "Content selector updated"),
        (status = 400, description = "A field is missing or wrong", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such content selector"),
    ),
)]
pub(crate) async fn update_selector(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SelectorsUpdate>,
    name: web::Path<String>,
    body: web::Json<ContentSelectorApiUpdateRequest>,
) -> Result<HttpResponse, ApiError> {
    let expression = checked_expression(&body.expression)?;
    let row = ContentSelectorRow {
        name: name.to_string(),
        description: body.description.clone(),
        expression: expression.clone(),
    };
    match arca.db.update_content_selector(&row).await {
        Ok(()) => {}
        Err(MetaError::NotFound) => {
            return Err(ApiError::NotFound(format!(
                "Content selector '{name}' not found"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    arca.security.invalidate();
    let attrs = json!({ "expression": expression });
    audit(
        &arca,
        &req,
        &g.subject,
        "security.selector",
        "updated",
        &name,
        attrs,
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Delete a content selector no privilege uses.
#[utoipa::path(
    delete,
    path = "/service/rest/v1/security/content-selectors/{name}",
    tag = "Content selectors",
    params(("name" = String, Path, description = "The content selector's name")),
    responses(
        (status = 204, description = "Content selector deleted"),
        (status = 400, description = "A privilege uses the selector", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such content selector"),
    ),
)]
pub(crate) async fn delete_selector(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<SelectorsDelete>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let users: Vec<String> = arca
        .db
        .list_privileges()
        .await?
        .into_iter()
        .filter(|p| {
            serde_json::from_str::<Properties>(&p.properties)
                .is_ok_and(|props| props.content_selector.as_deref() == Some(name.as_str()))
        })
        .map(|p| p.name)
        .collect();
    if !users.is_empty() {
        return Err(ApiError::invalid(
            "PARAMETER name",
            format!(
                "content selector {name} is used by privilege(s) {}",
                users.join(", ")
            ),
        ));
    }
    match arca.db.delete_content_selector(&name).await {
        Ok(()) => {}
        Err(MetaError::NotFound) => {
            return Err(ApiError::NotFound(format!(
                "Content selector '{name}' not found"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    arca.security.invalidate();
    audit(
        &arca,
        &req,
        &g.subject,
        "security.selector",
        "deleted",
        &name,
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
