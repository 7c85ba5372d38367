//! `security/users`, `security/roles` and `security/user-sources`, in Nexus's shapes.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    Arca,
    auth::Guard,
    meta::{MetaError, Role, User},
    security::ANONYMOUS_USER,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{
    RolesCreate, RolesDelete, RolesRead, RolesUpdate, UsersCreate, UsersDelete, UsersRead,
    UsersUpdate, audit,
};
use crate::{ApiError, error::ValidationErrorXO};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/security/users", web::get().to(list_users))
        .route("/security/users", web::post().to(create_user))
        .route("/security/users/{userId}", web::put().to(update_user))
        .route("/security/users/{userId}", web::delete().to(delete_user))
        .route("/security/user-sources", web::get().to(user_sources))
        .route("/security/roles", web::get().to(list_roles))
        .route("/security/roles", web::post().to(create_role))
        .route("/security/roles/{id}", web::get().to(get_role))
        .route("/security/roles/{id}", web::put().to(update_role))
        .route("/security/roles/{id}", web::delete().to(delete_role));
}

const STATUSES: [&str; 4] = ["active", "locked", "disabled", "changepassword"];

#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum UserStatus {
    Active,
    Locked,
    Disabled,
    #[schema(rename = "changepassword")]
    ChangePassword,
}

/// Nexus's `ApiUser`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiUser {
    user_id: String,
    first_name: String,
    last_name: String,
    #[schema(format = Email)]
    email_address: String,
    /// `default`: Arca's own users.
    source: String,
    #[schema(value_type = UserStatus)]
    status: String,
    /// Always false: every field can be changed.
    read_only: bool,
    roles: Vec<String>,
    /// Always empty: Arca has no external user sources.
    external_roles: Vec<String>,
}

/// Nexus's `RoleXOResponse`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoleXOResponse {
    id: String,
    source: String,
    name: String,
    description: String,
    /// Built-in roles cannot be changed or deleted.
    read_only: bool,
    privileges: Vec<String>,
    roles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ApiUserSource {
    id: String,
    name: String,
}

fn user_xo(u: &User) -> ApiUser {
    ApiUser {
        user_id: u.user_id.clone(),
        first_name: u.first_name.clone(),
        last_name: u.last_name.clone(),
        email_address: u.email.clone(),
        source: u.source.clone(),
        status: u.status.clone(),
        read_only: false,
        roles: u.roles.clone(),
        external_roles: vec![],
    }
}

fn role_xo(r: &Role) -> RoleXOResponse {
    RoleXOResponse {
        id: r.id.clone(),
        source: r.source.clone(),
        name: r.name.clone(),
        description: r.description.clone(),
        read_only: r.read_only,
        privileges: r.privileges.clone(),
        roles: r.roles.clone(),
    }
}

/// A role as the audit log records it.
fn role_audit(r: &Role) -> serde_json::Value {
    serde_json::to_value(role_xo(r)).unwrap_or_default()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UserQuery {
    /// Users whose id starts with this.
    #[serde(rename = "userId")]
    user_id: Option<String>,
    /// Users of this source (`default`).
    source: Option<String>,
}

/// List users.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/users",
    tag = "Security management: users",
    params(UserQuery),
    responses(
        (status = 200, description = "The users", body = Vec<ApiUser>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn list_users(
    arca: web::Data<Arca>,
    _g: Guard<UsersRead>,
    q: web::Query<UserQuery>,
) -> Result<HttpResponse, ApiError> {
    let users: Vec<ApiUser> = arca
        .db
        .list_users()
        .await?
        .iter()
        .filter(|u| q.source.as_deref().is_none_or(|s| s == u.source))
        .filter(|u| {
            q.user_id
                .as_deref()
                .is_none_or(|t| u.user_id.starts_with(t))
        })
        .map(user_xo)
        .collect();
    Ok(HttpResponse::Ok().json(users))
}

/// Nexus's `ApiCreateUser`. An update takes the same fields (Nexus's `ApiUser`) but no password.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ApiCreateUser {
    /// No `:`, `/` or spaces; at most 128 characters.
    #[schema(required = true, nullable = false)]
    user_id: Option<String>,
    #[schema(required = true, nullable = false)]
    first_name: Option<String>,
    #[schema(required = true, nullable = false)]
    last_name: Option<String>,
    #[schema(required = true, nullable = false, format = Email)]
    email_address: Option<String>,
    /// At least 8 characters; ignored on update.
    #[schema(required = true, nullable = false)]
    password: Option<String>,
    /// `active` when left out.
    #[schema(value_type = UserStatus, required = false)]
    status: Option<String>,
    /// Only `default`.
    #[schema(nullable = false)]
    source: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

pub(super) fn required<'a>(v: &'a Option<String>, field: &str) -> Result<&'a str, ApiError> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                &format!("PARAMETER {field}"),
                format!("{field} is required"),
            )
        })
}

/// Checks the fields both create and update take; returns the user they describe.
async fn user_from(arca: &Arca, b: &ApiCreateUser, user_id: &str) -> Result<User, ApiError> {
    let email = required(&b.email_address, "emailAddress")?;
    if !email.contains('@') {
        return Err(ApiError::invalid(
            "PARAMETER emailAddress",
            "emailAddress must be an email address",
        ));
    }
    let status = b.status.as_deref().unwrap_or("active");
    if !STATUSES.contains(&status) {
        return Err(ApiError::invalid(
            "PARAMETER status",
            format!("status must be one of {}", STATUSES.join(", ")),
        ));
    }
    for r in &b.roles {
        match arca.db.get_role(r).await {
            Ok(_) => {}
            Err(MetaError::NotFound) => {
                return Err(ApiError::invalid(
                    "PARAMETER roles",
                    format!("role {r} does not exist"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut roles = b.roles.clone();
    roles.sort();
    roles.dedup();
    Ok(User {
        user_id: user_id.to_owned(),
        first_name: required(&b.first_name, "firstName")?.to_owned(),
        last_name: required(&b.last_name, "lastName")?.to_owned(),
        email: email.to_owned(),
        password_hash: String::new(),
        status: status.to_owned(),
        source: "default".into(),
        roles,
        not_before_ms: 0,
    })
}

/// Create a user in the default source.
#[utoipa::path(
    post,
    path = "/service/rest/v1/security/users",
    tag = "Security management: users",
    request_body = ApiCreateUser,
    responses(
        (status = 200, description = "The user created", body = ApiUser),
        (status = 400, description = "A field is missing or wrong", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 409, description = "The user exists", body = Vec<ValidationErrorXO>),
    ),
)]
pub(crate) async fn create_user(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<UsersCreate>,
    body: web::Json<ApiCreateUser>,
) -> Result<HttpResponse, ApiError> {
    let id = required(&body.user_id, "userId")?;
    if id.contains([':', '/', ' ']) || id.len() > 128 {
        return Err(ApiError::invalid(
            "PARAMETER userId",
            "userId holds no ':', '/' or spaces and is at most 128 characters",
        ));
    }
    let password = required(&body.password, "password")?;
    if password.len() < 8 {
        return Err(ApiError::invalid(
            "PARAMETER password",
            "the password must be at least 8 characters",
        ));
    }
    let mut user = user_from(&arca, &body, id).await?;
    if password.len() > 1024 {
        return Err(ApiError::invalid(
            "PARAMETER password",
            "the password must be at most 1024 characters",
        ));
    }
    user.password_hash = arca.security.hash_password(password).await?;
    match arca.db.create_user(&user).await {
        Ok(()) => {}
        Err(MetaError::Conflict(m)) => return Err(ApiError::Conflict(m)),
        Err(e) => return Err(e.into()),
    }
    audit(
        &arca,
        &req,
        &g.subject,
        "security.user",
        "created",
        id,
        json!({ "roles": user.roles }),
    )
    .await;
    Ok(HttpResponse::Ok().json(user_xo(&user)))
}

/// Update a user (the password is changed with `change-password`).
#[utoipa::path(
    put,
    path = "/service/rest/v1/security/users/{userId}",
    tag = "Security management: users",
    params(("userId" = String, Path, description = "The user's id")),
    request_body(content = ApiUser, description = "`readOnly` and `externalRoles` are ignored"),
    responses(
        (status = 204, description = "User updated"),
        (status = 400, description = "A field is missing or wrong", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "User not found"),
    ),
)]
pub(crate) async fn update_user(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<UsersUpdate>,
    path: web::Path<String>,
    body: web::Json<ApiCreateUser>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    if body.user_id.as_deref().is_some_and(|u| u != id) {
        return Err(ApiError::invalid(
            "PARAMETER userId",
            "the userId in the body differs from the one in the path",
        ));
    }
    if body.source.as_deref().is_some_and(|s| s != "default") {
        return Err(ApiError::invalid(
            "PARAMETER source",
            "only the default source is supported",
        ));
    }
    let existing = match arca.db.get_user(&id).await {
        Ok(u) => u,
        Err(MetaError::NotFound) => {
            return Err(ApiError::NotFound(format!("User '{id}' not found.")));
        }
        Err(e) => return Err(e.into()),
    };
    let user = user_from(&arca, &body, &id).await?;
    arca.db.update_user(&user).await?;
    arca.security.invalidate();
    audit(
        &arca,
        &req,
        &g.subject,
        "security.user",
        "updated",
        &id,
        json!({ "status": user.status, "roles": user.roles, "previousStatus": existing.status }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Delete a user.
#[utoipa::path(
    delete,
    path = "/service/rest/v1/security/users/{userId}",
    tag = "Security management: users",
    params(("userId" = String, Path, description = "The user's id")),
    responses(
        (status = 204, description = "User deleted"),
        (status = 400, description = "The caller itself, or the anonymous user", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "User not found"),
    ),
)]
pub(crate) async fn delete_user(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<UsersDelete>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    if id == g.subject.user_id {
        return Err(ApiError::invalid(
            "PARAMETER userId",
            "you cannot delete yourself",
        ));
    }
    if id == ANONYMOUS_USER {
        return Err(ApiError::invalid(
            "PARAMETER userId",
            "the anonymous user cannot be deleted; turn anonymous access off instead",
        ));
    }
    match arca.db.delete_user(&id).await {
        Ok(()) => {}
        Err(MetaError::NotFound) => {
            return Err(ApiError::NotFound(format!("User '{id}' not found.")));
        }
        Err(e) => return Err(e.into()),
    }
    arca.security.invalidate();
    audit(
        &arca,
        &req,
        &g.subject,
        "security.user",
        "deleted",
        &id,
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// List the user sources (only Arca's own, `default`).
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/user-sources",
    tag = "Security management",
    responses(
        (status = 200, description = "The user sources", body = Vec<ApiUserSource>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn user_sources(_g: Guard<UsersRead>) -> HttpResponse {
    HttpResponse::Ok().json([ApiUserSource {
        id: "default".into(),
        name: "Local".into(),
    }])
}

/// Nexus's `RoleXORequest`.
#[derive(Deserialize, ToSchema)]
pub(crate) struct RoleXORequest {
    /// Required on create; on update, if given, the id in the path.
    #[schema(nullable = false)]
    id: Option<String>,
    #[schema(required = true, nullable = false)]
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    privileges: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
}

/// List roles.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/roles",
    tag = "Security management: roles",
    responses(
        (status = 200, description = "The roles", body = Vec<RoleXOResponse>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn list_roles(
    arca: web::Data<Arca>,
    _g: Guard<RolesRead>,
) -> Result<HttpResponse, ApiError> {
    let roles: Vec<RoleXOResponse> = arca.db.list_roles().await?.iter().map(role_xo).collect();
    Ok(HttpResponse::Ok().json(roles))
}

/// Get a role.
#[utoipa::path(
    get,
    path = "/service/rest/v1/security/roles/{id}",
    tag = "Security management: roles",
    params(("id" = String, Path, description = "The role's id")),
    responses(
        (status = 200, description = "The role", body = RoleXOResponse),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Role not found"),
    ),
)]
pub(crate) async fn get_role(
    arca: web::Data<Arca>,
    _g: Guard<RolesRead>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    match arca.db.get_role(&path).await {
        Ok(r) => Ok(HttpResponse::Ok().json(role_xo(&r))),
        Err(MetaError::NotFound) => Err(ApiError::NotFound(format!("Role '{path}' not found"))),
        Err(e) => Err(e.into()),
    }
}

/// Checks a role body: names present, contained roles exist, no role contains itself.
async fn role_from(arca: &Arca, b: &RoleXORequest, id: &str) -> Result<Role, ApiError> {
    let name = required(&b.name, "name")?;
    if b.privileges.iter().any(|p| p.trim().is_empty()) {
        return Err(ApiError::invalid(
            "PARAMETER privileges",
            "a privilege name is empty",
        ));
    }
    // Walk the contained roles: each must exist, and none may lead back to this one.
    let mut todo: Vec<String> = b.roles.clone();
    let mut seen = std::collections::HashSet::new();
    while let Some(r) = todo.pop() {
        if r == id {
            return Err(ApiError::invalid(
                "PARAMETER roles",
                format!("role {id} would contain itself"),
            ));
        }
        if !seen.insert(r.clone()) {
            continue;
        }
        match arca.db.get_role(&r).await {
            Ok(role) => todo.extend(role.roles),
            Err(MetaError::NotFound) => {
                return Err(ApiError::invalid(
                    "PARAMETER roles",
                    format!("role {r} does not exist"),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Role {
        id: id.to_owned(),
        name: name.to_owned(),
        description: b.description.clone(),
        source: "default".into(),
        read_only: false,
        privileges: b.privileges.clone(),
        roles: b.roles.clone(),
    })
}

/// Create a role.
#[utoipa::path(
    post,
    path = "/service/rest/v1/security/roles",
    tag = "Security management: roles",
    request_body = RoleXORequest,
    responses(
        (status = 200, description = "The role created", body = RoleXOResponse),
        (status = 400, description = "A field is missing or wrong", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 409, description = "The role exists", body = Vec<ValidationErrorXO>),
    ),
)]
pub(crate) async fn create_role(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<RolesCreate>,
    body: web::Json<RoleXORequest>,
) -> Result<HttpResponse, ApiError> {
    let id = required(&body.id, "id")?.to_owned();
    match arca.db.get_role(&id).await {
        Ok(_) => return Err(ApiError::Conflict(format!("role {id} already exists"))),
        Err(MetaError::NotFound) => {}
        Err(e) => return Err(e.into()),
    }
    let role = role_from(&arca, &body, &id).await?;
    arca.db.put_role(&role).await?;
    audit(
        &arca,
        &req,
        &g.subject,
        "security.role",
        "created",
        &id,
        role_audit(&role),
    )
    .await;
    Ok(HttpResponse::Ok().json(role_xo(&role)))
}

/// A role the API may change: it exists and is not built in.
async fn editable_role(arca: &Arca, id: &str) -> Result<(), ApiError> {
    match arca.db.get_role(id).await {
        Ok(r) if r.read_only => Err(ApiError::invalid(
            "PARAMETER id",
            format!("role {id} is built in and read-only"),
        )),
        Ok(_) => Ok(()),
        Err(MetaError::NotFound) => Err(ApiError::NotFound(format!("Role '{id}' not found"))),
        Err(e) => Err(e.into()),
    }
}

/// Update a role (not a built-in one).
#[utoipa::path(
    put,
    path = "/service/rest/v1/security/roles/{id}",
    tag = "Security management: roles",
    params(("id" = String, Path, description = "The role's id")),
    request_body = RoleXORequest,
    responses(
        (status = 204, description = "Role updated"),
        (status = 400, description = "A field is wrong, or the role is built in", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Role not found"),
    ),
)]
pub(crate) async fn update_role(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<RolesUpdate>,
    path: web::Path<String>,
    body: web::Json<RoleXORequest>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    editable_role(&arca, &id).await?;
    if body.id.as_deref().is_some_and(|b| b != id) {
        return Err(ApiError::invalid(
            "PARAMETER id",
            "the id in the body differs from the one in the path",
        ));
    }
    let role = role_from(&arca, &body, &id).await?;
    arca.db.put_role(&role).await?;
    arca.security.invalidate();
    audit(
        &arca,
        &req,
        &g.subject,
        "security.role",
        "updated",
        &id,
        role_audit(&role),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Delete a role (not a built-in one).
#[utoipa::path(
    delete,
    path = "/service/rest/v1/security/roles/{id}",
    tag = "Security management: roles",
    params(("id" = String, Path, description = "The role's id")),
    responses(
        (status = 204, description = "Role deleted"),
        (status = 400, description = "The role is built in", body = Vec<ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Role not found"),
    ),
)]
pub(crate) async fn delete_role(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<RolesDelete>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    editable_role(&arca, &id).await?;
    arca.db.delete_role(&id).await?;
    arca.security.invalidate();
    audit(
        &arca,
        &req,
        &g.subject,
        "security.role",
        "deleted",
        &id,
        json!({}),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}
