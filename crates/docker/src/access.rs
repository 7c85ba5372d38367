//! Who may do what on `/v2/`: the image name → repository mapping, bearer tokens, challenges.
//!
//! Every registry call asks [`authorize_for`], which checks the caller's current privileges (the
//! one authorisation function of core) and, for a bearer token, that the token grants the scope.

use actix_web::{HttpRequest, http::header};
use arca_core::{
    Arca,
    meta::MetaError,
    model::{RepoKind, Repository},
    security::{Action, AuthError, Permission, Subject, TOKEN_PREFIX},
};
use serde::{Deserialize, Serialize};

use crate::{
    error::{RegistryError, Result},
    names::valid_name,
};

/// The `service` of our challenges and the audience of our tokens.
pub const SERVICE: &str = "arca";
pub const FORMAT: &str = "docker";

/// A bearer token's claims, as the distribution token spec lays them out.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default)]
    pub access: Vec<Access>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

impl Claims {
    pub fn allows(&self, name: &str, action: &str) -> bool {
        self.access.iter().any(|a| {
            a.kind == "repository"
                && a.name == name
                && a.actions.iter().any(|x| x == action || x == "*")
        })
    }
}

/// The registry action name of a privilege action.
pub fn scope_action(a: Action) -> &'static str {
    match a {
        Action::Browse | Action::Read => "pull",
        Action::Add | Action::Edit => "push",
        Action::Delete => "delete",
    }
}

/// The image a request addresses: the Arca repository and the name inside it.
#[derive(Clone, Debug)]
pub struct Target {
    pub repo: Repository,
    /// The image name inside the repository (`team/app`).
    pub image: String,
    /// The name as the client wrote it (`docker-hosted/team/app`), for scopes and `Location`.
    pub name: String,
}

/// The repository a connector port serves, if the request came in on one.
pub fn connector(arca: &Arca, req: &HttpRequest) -> Option<String> {
    let port = req.app_config().local_addr().port();
    arca.connectors.read().ok()?.get(&port).cloned()
}

pub(crate) async fn docker_repo(arca: &Arca, name: &str) -> Result<Option<Repository>> {
    match arca.repository(name).await {
        Ok(r) if r.format == FORMAT => Ok(Some(r)),
        Ok(_) | Err(MetaError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Maps an image name to its repository: on a connector port the port's repository; else the
/// first path segment when it names a docker repository; else the default repository.
pub async fn resolve(arca: &Arca, req: &HttpRequest, name: &str) -> Result<Target> {
    valid_name(name).map_err(|why| RegistryError::name_invalid(name, why))?;
    let unknown = || RegistryError::name_unknown(name);
    let whole = |repo: Repository| Target {
        repo,
        image: name.to_owned(),
        name: name.to_owned(),
    };
    if let Some(repo) = connector(arca, req) {
        return docker_repo(arca, &repo)
            .await?
            .map(whole)
            .ok_or_else(unknown);
    }
    if let Some((first, rest)) = name.split_once('/')
        && let Some(repo) = docker_repo(arca, first).await?
    {
        return Ok(Target {
            repo,
            image: rest.to_owned(),
            name: name.to_owned(),
        });
    }
    match &arca.settings.docker_default_repository {
        Some(d) => docker_repo(arca, d).await?.map(whole).ok_or_else(unknown),
        None => Err(unknown()),
    }
}

/// `<scheme>://<host>` for links in this response; on a connector port always the address the
/// client used, since its names only make sense there.
pub fn base_url(arca: &Arca, req: &HttpRequest) -> String {
    if connector(arca, req).is_some() {
        let c = req.connection_info();
        return format!("{}://{}", c.scheme(), c.host());
    }
    arca.settings.public.for_request(req)
}

pub fn challenge(arca: &Arca, req: &HttpRequest, scope: Option<&str>) -> String {
    let mut c = format!(
        "Bearer realm=\"{}/v2/token\",service=\"{SERVICE}\"",
        base_url(arca, req)
    );
    if let Some(s) = scope {
        c.push_str(&format!(",scope=\"{s}\""));
    }
    c
}

/// The credentials a request carries.
pub enum Credentials {
    None,
    /// A registry bearer token (a JWT we signed).
    Token(Claims),
    /// Basic credentials or an Arca API token, for core to check.
    Header(String),
}

pub fn credentials(arca: &Arca, req: &HttpRequest) -> std::result::Result<Credentials, ()> {
    let Some(h) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(Credentials::None);
    };
    let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !rest.starts_with(TOKEN_PREFIX) {
        let jwt = arca.security.jwt().ok_or(())?;
        return jwt
            .verify::<Claims>(rest, SERVICE)
            .map(Credentials::Token)
            .map_err(|e| tracing::debug!(error = %e, "bearer token refused"));
    }
    Ok(Credentials::Header(h.to_owned()))
}

/// The authenticated subject behind `creds`; `Err(())` for bad credentials. Throttled and
/// busy refusals are errors of their own (429, 503): retrying later helps, new credentials not.
pub async fn subject(
    arca: &Arca,
    req: &HttpRequest,
    creds: &Credentials,
) -> Result<std::result::Result<Subject, ()>> {
    let r = match creds {
        Credentials::None => arca.security.anonymous_subject().await,
        Credentials::Token(c) => {
            // `iat` is in seconds: a token of the very second of a sign-out still passes.
            arca.security
                .user_subject(&c.sub, c.iat.saturating_mul(1000).saturating_add(999))
                .await
        }
        Credentials::Header(h) => {
            arca.security
                .authenticate(Some(h), arca_core::auth::client_ip(arca, req))
                .await
        }
    };
    match r {
        Ok(s) => Ok(Ok(s)),
        Err(e @ (AuthError::Throttled(_) | AuthError::Busy)) => Err(e.into()),
        Err(AuthError::Meta(e)) => Err(e.into()),
        Err(_) => Ok(Err(())),
    }
}

/// Whether `subject` may do `action` on `target` at `path` (Nexus's docker content path,
/// `/v2/<image>/...`): a repository privilege, or a content-selector privilege whose
/// expression selects the path.
pub fn allowed(subject: &Subject, target: &Target, action: Action, path: &str) -> bool {
    let perm = Permission::RepoView {
        format: FORMAT,
        repo: target.repo.name.as_str(),
        action,
    };
    subject.can(&perm) || subject.can_at(&perm, path)
}

/// The request's path as content selectors see it: `/v2/<image>/...`, without the repository
/// segment a prefixed name carries.
pub fn content_path(req: &HttpRequest, target: &Target) -> String {
    let p = req.path();
    match p.strip_prefix(&format!("/v2/{}/", target.repo.name)) {
        Some(rest) if target.name != target.image => format!("/v2/{rest}"),
        _ => p.to_owned(),
    }
}

/// The source of a cross-repository mount (`?mount=<digest>&from=<name>`): its name, when the
/// request is a mount from another well-formed name.
pub fn mount_from(req: &HttpRequest) -> Option<String> {
    let q = actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string()).ok()?;
    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    get("mount")?;
    get("from").filter(|f| valid_name(f).is_ok())
}

/// The caller, if allowed `action` on `target`; else 401 with a challenge for the scope the
/// request needs, or 403 when the caller is known and lacks the privilege. A mount from
/// `mount_from` also challenges for `repository:<from>:pull` (and
/// the destination's `pull,push`), so a token fetched for the challenge can mount. A token
/// lacking that pull for a caller who holds it is refused with `insufficient_scope`: a client
/// then fetches one that can mount instead of uploading the blob again.
pub async fn authorize_for(
    arca: &Arca,
    req: &HttpRequest,
    target: &Target,
    action: Action,
    mount_from: Option<&str>,
) -> Result<(Subject, Credentials)> {
    let scope = match mount_from {
        Some(from) if from != target.name => format!(
            "repository:{}:pull,push repository:{from}:pull",
            target.name
        ),
        _ => format!("repository:{}:{}", target.name, scope_action(action)),
    };
    // With a detail (as the reference registry sends) docker takes the error as final instead of
    // retrying the push five times.
    let unauthorized = || {
        RegistryError::unauthorized(challenge(arca, req, Some(&scope))).detail(
            serde_json::json!([{ "Type": "repository", "Name": target.name, "Action": scope_action(action) }]),
        )
    };
    let creds = credentials(arca, req).map_err(|_| unauthorized())?;
    let subject = subject(arca, req, &creds)
        .await?
        .map_err(|_| unauthorized())?;
    if !allowed(&subject, target, action, &content_path(req, target)) {
        return Err(if subject.anonymous {
            unauthorized()
        } else {
            RegistryError::denied(format!(
                "{} may not {} {}",
                subject.user_id,
                scope_action(action),
                target.name
            ))
        });
    }
    if let Credentials::Token(c) = &creds
        && !c.allows(&target.name, scope_action(action))
    {
        return Err(insufficient(unauthorized()));
    }
    if let (Credentials::Token(c), Some(from)) = (&creds, mount_from)
        && from != target.name
        && !c.allows(from, "pull")
        && let Ok(source) = resolve(arca, req, from).await
        && subject.can(&Permission::RepoView {
            format: FORMAT,
            repo: source.repo.name.as_str(),
            action: Action::Read,
        })
    {
        return Err(insufficient(unauthorized()));
    }
    Ok((subject, creds))
}

fn insufficient(mut e: RegistryError) -> RegistryError {
    if let Some(ch) = &mut e.challenge {
        ch.push_str(",error=\"insufficient_scope\"");
    }
    e
}

/// Whether the caller may pull `target` (a mount's source), without a challenge.
pub fn may_pull(subject: &Subject, creds: &Credentials, target: &Target) -> bool {
    subject.can(&Permission::RepoView {
        format: FORMAT,
        repo: target.repo.name.as_str(),
        action: Action::Read,
    }) && match creds {
        Credentials::Token(c) => c.allows(&target.name, "pull"),
        _ => true,
    }
}

/// The repositories a read looks in: a group's members in order, else the repository.
pub async fn read_sources(arca: &Arca, repo: &Repository) -> Result<Vec<Repository>> {
    Ok(arca_core::group::read_sources(arca, repo).await?)
}

/// The repository a write lands in: a hosted one itself, a group's writable member.
pub async fn write_repo(arca: &Arca, repo: &Repository) -> Result<Repository> {
    match repo.kind {
        RepoKind::Hosted => Ok(repo.clone()),
        RepoKind::Proxy => Err(RegistryError::unsupported(format!(
            "repository {} is a proxy: push to a hosted repository",
            repo.name
        ))),
        RepoKind::Group => {
            let Some(member) = repo
                .attrs
                .pointer("/group/writableMember")
                .and_then(|v| v.as_str())
                .filter(|m| !m.is_empty())
            else {
                return Err(RegistryError::denied(format!(
                    "group {} has no writable member",
                    repo.name
                )));
            };
            match docker_repo(arca, member).await? {
                Some(m) if m.kind == RepoKind::Hosted => Ok(m),
                _ => Err(RegistryError::denied(format!(
                    "the writable member {member} of group {} is not a hosted docker repository",
                    repo.name
                ))),
            }
        }
    }
}
