//! Who is asking (authentication) and what they may do (authorization).
//!
//! Privileges are Nexus's names: `nx-all`, `nx-repository-view-<format>-<repo>-<action>`,
//! `nx-repository-admin-<format>-<repo>-<action>` and application privileges `nx-<domain>-<action>`,
//! each part a literal or `*`. [`Security::authorize`] is the one question every route asks.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use base64::Engine;
use rand::{Rng, distributions::Alphanumeric};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::{
    csel::Selector,
    meta::{Db, MetaError, Role, User},
    privilege::{SelectorGrant, expand},
};

/// Tokens start with this so a Basic password can be told from a token without a lookup.
pub const TOKEN_PREFIX: &str = "arca_";
pub const ANONYMOUS_USER: &str = "anonymous";
const CACHE_TTL: Duration = Duration::from_secs(30);
const SETTING_ANONYMOUS: &str = "anonymous_access";

/// What a repository request does, in Nexus's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Browse,
    Read,
    Add,
    Edit,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Browse => "browse",
            Self::Read => "read",
            Self::Add => "add",
            Self::Edit => "edit",
            Self::Delete => "delete",
        }
    }
}

/// A permission to check.
#[derive(Clone, Copy, Debug)]
pub enum Permission<'a> {
    /// Using a repository's content.
    RepoView {
        format: &'a str,
        repo: &'a str,
        action: Action,
    },
    /// Administering a repository's configuration.
    RepoAdmin {
        format: &'a str,
        repo: &'a str,
        action: Action,
    },
    /// Everything else: `nx-<domain>-<action>`, where a privilege action `all` grants any.
    App { domain: &'a str, action: &'a str },
}

fn part(granted: &str, asked: &str) -> bool {
    granted == "*" || granted == asked
}

/// Whether privilege `p` grants `perm`.
pub fn grants(p: &str, perm: &Permission<'_>) -> bool {
    if p == "nx-all" {
        return true;
    }
    let repo_priv = |rest: &str, format: &str, repo: &str, action: Action| -> bool {
        // `<format>-<repo>-<action>`: formats and actions hold no '-', repository names may.
        let Some((f, rest)) = rest.split_once('-') else {
            return false;
        };
        let Some((r, a)) = rest.rsplit_once('-') else {
            return false;
        };
        part(f, format) && part(r, repo) && part(a, action.as_str())
    };
    match *perm {
        Permission::RepoView {
            format,
            repo,
            action,
        } => p
            .strip_prefix("nx-repository-view-")
            .is_some_and(|rest| repo_priv(rest, format, repo, action)),
        Permission::RepoAdmin {
            format,
            repo,
            action,
        } => p
            .strip_prefix("nx-repository-admin-")
            .is_some_and(|rest| repo_priv(rest, format, repo, action)),
        Permission::App { domain, action } => p
            .strip_prefix("nx-")
            .and_then(|rest| rest.strip_prefix(domain))
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|a| a == "all" || a == "*" || a == action),
    }
}

/// The caller of a request, with its privileges resolved from its roles.
#[derive(Clone, Debug)]
pub struct Subject {
    pub user_id: String,
    pub anonymous: bool,
    pub privileges: Arc<Vec<String>>,
    /// Content-selector privileges: access limited to the assets their expression selects.
    pub selectors: Arc<Vec<SelectorGrant>>,
}

impl Subject {
    /// Arca itself, for scheduled work (cleanup) that formats see as a caller.
    pub fn system() -> Self {
        Self {
            user_id: "*SYSTEM".into(),
            anonymous: false,
            privileges: Arc::new(vec!["nx-all".into()]),
            selectors: Arc::new(vec![]),
        }
    }

    pub fn can(&self, perm: &Permission<'_>) -> bool {
        self.privileges.iter().any(|p| grants(p, perm))
    }

    /// Whether a content-selector privilege lets the subject see some paths of a repository
    /// (listings then show only the paths [`Subject::can_at`] allows).
    pub fn sees_some_of(&self, format: &str, repo: &str) -> bool {
        self.selectors.iter().any(|g| {
            (g.format == "*" || g.format == format)
                && (g.repo == "*" || g.repo == repo)
                && g.actions
                    .iter()
                    .any(|a| a == "*" || a == "browse" || a == "read")
        })
    }

    /// Like [`Subject::can`], for a request on one asset path: content-selector privileges
    /// count too.
    pub fn can_at(&self, perm: &Permission<'_>, path: &str) -> bool {
        self.can(perm)
            || match *perm {
                Permission::RepoView {
                    format,
                    repo,
                    action,
                } => self
                    .selectors
                    .iter()
                    .any(|g| g.allows(format, repo, action, path)),
                _ => false,
            }
    }
}

/// The stored privileges and content selectors, as resolution needs them.
#[derive(Default)]
struct PrivilegeTable {
    rows: HashMap<String, crate::meta::PrivilegeRow>,
    selectors: HashMap<String, Arc<Selector>>,
}

#[derive(Debug, Error)]
pub enum AuthError {
    /// No or wrong credentials: the client should (re)authenticate.
    #[error("authentication required")]
    Unauthenticated,
    #[error("invalid credentials")]
    BadCredentials,
    /// Authenticated, but not allowed.
    #[error("{user} lacks the privilege for this request")]
    Forbidden { user: String },
    /// A state-changing request made with the session cookie lacks the session's CSRF token.
    #[error("this request needs the session's CSRF token in X-CSRF-Token; reload the page")]
    Csrf,
    #[error("metadata store: {0}")]
    Meta(#[from] MetaError),
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Meta(MetaError::Invalid(format!("hashing password: {e}"))))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

pub fn random_secret(len: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Authentication and authorization over the metadata store, with a short-lived cache so that
/// clients sending Basic credentials on every request do not pay an argon2 hash each time.
pub struct Security {
    db: Db,
    cache: Mutex<HashMap<[u8; 32], (Subject, Instant)>>,
    /// user → (consecutive failed logins, when the last one failed): drives the backoff.
    failures: Mutex<HashMap<String, (u32, Instant)>>,
    anonymous: Mutex<Option<(bool, Instant)>>,
    privileges: Mutex<Option<(Arc<PrivilegeTable>, Instant)>>,
    /// Set by [`Security::bootstrap`].
    jwt: std::sync::OnceLock<crate::jwt::Jwt>,
}

impl Security {
    pub fn new(db: Db) -> Self {
        Self {
            db,
            cache: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            anonymous: Mutex::new(None),
            privileges: Mutex::new(None),
            jwt: std::sync::OnceLock::new(),
        }
    }

    /// Creates the built-in roles, the `anonymous` user and, on first start, `admin`.
    /// Returns the generated admin password when one was generated.
    pub async fn bootstrap(
        &self,
        admin_password: Option<&str>,
        anonymous_default: bool,
    ) -> Result<Option<String>, AuthError> {
        let builtin = |id: &str, desc: &str, privileges: &[&str]| Role {
            id: id.into(),
            name: id.into(),
            description: desc.into(),
            source: "default".into(),
            read_only: true,
            privileges: privileges.iter().map(|s| s.to_string()).collect(),
            roles: vec![],
        };
        self.db
            .put_role(&builtin("nx-admin", "Administrator Role", &["nx-all"]))
            .await?;
        self.db
            .put_role(&builtin(
                "nx-anonymous",
                "Anonymous Role",
                &[
                    "nx-healthcheck-read",
                    "nx-search-read",
                    "nx-repository-view-*-*-browse",
                    "nx-repository-view-*-*-read",
                ],
            ))
            .await?;
        if self.jwt.get().is_none() {
            let _ = self.jwt.set(crate::jwt::Jwt::load(&self.db).await?);
        }
        self.db
            .init_setting(
                SETTING_ANONYMOUS,
                if anonymous_default { "true" } else { "false" },
            )
            .await?;
        let user = |id: &str, hash: String, roles: &[&str]| User {
            user_id: id.into(),
            first_name: id.into(),
            last_name: "User".into(),
            email: format!("{id}@example.org"),
            password_hash: hash,
            status: "active".into(),
            source: "default".into(),
            roles: roles.iter().map(|s| s.to_string()).collect(),
        };
        if matches!(
            self.db.get_user(ANONYMOUS_USER).await,
            Err(MetaError::NotFound)
        ) {
            // "!" is no valid hash: nobody can log in as anonymous.
            self.db
                .create_user(&user(ANONYMOUS_USER, "!".into(), &["nx-anonymous"]))
                .await?;
        }
        match self.db.get_user("admin").await {
            Err(MetaError::NotFound) => {
                let generated = admin_password.is_none().then(|| random_secret(24));
                let pw = admin_password.or(generated.as_deref()).unwrap_or_default();
                let u = user("admin", hash_password(pw)?, &["nx-admin"]);
                match self.db.create_user(&u).await {
                    // Another node created it first.
                    Ok(()) | Err(MetaError::Conflict(_)) => {}
                    Err(e) => return Err(e.into()),
                }
                Ok(generated)
            }
            Ok(_) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn anonymous_enabled(&self) -> Result<bool, AuthError> {
        if let Ok(g) = self.anonymous.lock()
            && let Some((v, at)) = *g
            && at.elapsed() < Duration::from_secs(5)
        {
            return Ok(v);
        }
        let v = self.db.get_setting(SETTING_ANONYMOUS).await?.as_deref() == Some("true");
        if let Ok(mut g) = self.anonymous.lock() {
            *g = Some((v, Instant::now()));
        }
        Ok(v)
    }

    pub async fn set_anonymous(&self, enabled: bool) -> Result<(), AuthError> {
        self.db
            .set_setting(SETTING_ANONYMOUS, if enabled { "true" } else { "false" })
            .await?;
        if let Ok(mut g) = self.anonymous.lock() {
            *g = Some((enabled, Instant::now()));
        }
        Ok(())
    }

    /// Forgets cached logins, e.g. after a password or role change.
    pub fn invalidate(&self) {
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
        if let Ok(mut p) = self.privileges.lock() {
            *p = None;
        }
    }

    async fn privilege_table(&self) -> Result<Arc<PrivilegeTable>, AuthError> {
        if let Ok(g) = self.privileges.lock()
            && let Some((t, at)) = &*g
            && at.elapsed() < Duration::from_secs(5)
        {
            return Ok(t.clone());
        }
        let mut t = PrivilegeTable::default();
        for c in self.db.list_content_selectors().await? {
            match Selector::parse(&c.expression) {
                Ok(sel) => {
                    t.selectors.insert(c.name, Arc::new(sel));
                }
                Err(e) => {
                    tracing::warn!(selector = %c.name, error = %e, "content selector ignored")
                }
            }
        }
        for r in self.db.list_privileges().await? {
            t.rows.insert(r.name.clone(), r);
        }
        let t = Arc::new(t);
        if let Ok(mut g) = self.privileges.lock() {
            *g = Some((t.clone(), Instant::now()));
        }
        Ok(t)
    }

    /// Resolves the privileges of a set of roles, following nested roles: stored privileges
    /// expand to what they grant, other names are built-in patterns.
    async fn privileges_of(
        &self,
        roles: &[String],
    ) -> Result<(Vec<String>, Vec<SelectorGrant>), AuthError> {
        let names = self.privilege_names(roles).await?;
        let table = self.privilege_table().await?;
        let (mut patterns, mut selectors) = (Vec::new(), Vec::new());
        for n in names {
            match table.rows.get(&n) {
                Some(row) => {
                    let (p, g) = expand(row, |s| table.selectors.get(s).cloned());
                    patterns.extend(p);
                    selectors.extend(g);
                }
                None => patterns.push(n),
            }
        }
        patterns.sort();
        patterns.dedup();
        Ok((patterns, selectors))
    }

    async fn privilege_names(&self, roles: &[String]) -> Result<Vec<String>, AuthError> {
        let mut seen = HashSet::new();
        let mut todo: Vec<String> = roles.to_vec();
        let mut privileges = Vec::new();
        while let Some(r) = todo.pop() {
            if !seen.insert(r.clone()) {
                continue;
            }
            match self.db.get_role(&r).await {
                Ok(role) => {
                    privileges.extend(role.privileges);
                    todo.extend(role.roles);
                }
                Err(MetaError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
        privileges.sort();
        privileges.dedup();
        Ok(privileges)
    }

    async fn subject_of(&self, user: &User) -> Result<Subject, AuthError> {
        let (privileges, selectors) = self.privileges_of(&user.roles).await?;
        Ok(Subject {
            user_id: user.user_id.clone(),
            anonymous: false,
            privileges: Arc::new(privileges),
            selectors: Arc::new(selectors),
        })
    }

    pub async fn anonymous_subject(&self) -> Result<Subject, AuthError> {
        let (privileges, selectors) = if self.anonymous_enabled().await? {
            match self.db.get_user(ANONYMOUS_USER).await {
                Ok(u) => self.privileges_of(&u.roles).await?,
                Err(MetaError::NotFound) => Default::default(),
                Err(e) => return Err(e.into()),
            }
        } else {
            Default::default()
        };
        Ok(Subject {
            user_id: ANONYMOUS_USER.into(),
            anonymous: true,
            privileges: Arc::new(privileges),
            selectors: Arc::new(selectors),
        })
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Subject> {
        let c = self.cache.lock().ok()?;
        c.get(key)
            .filter(|(_, at)| at.elapsed() < CACHE_TTL)
            .map(|(s, _)| s.clone())
    }

    fn remember(&self, key: [u8; 32], s: &Subject) {
        if let Ok(mut c) = self.cache.lock() {
            if c.len() > 10_000 {
                c.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            }
            c.insert(key, (s.clone(), Instant::now()));
        }
    }

    /// After `FREE_FAILURES` wrong passwords in a row, a user's next attempt must wait 1 s,
    /// then 2, 4, … up to 5 minutes; any attempt sooner is refused unchecked. Per node.
    fn backoff_remaining(&self, user_id: &str) -> Option<Duration> {
        const FREE_FAILURES: u32 = 5;
        let f = self.failures.lock().ok()?;
        let (n, at) = f.get(user_id)?;
        if *n < FREE_FAILURES {
            return None;
        }
        let wait =
            Duration::from_secs(1u64 << (n - FREE_FAILURES).min(8)).min(Duration::from_secs(300));
        wait.checked_sub(at.elapsed())
    }

    fn record_login(&self, user_id: &str, ok: bool) {
        let Ok(mut f) = self.failures.lock() else {
            return;
        };
        if ok {
            f.remove(user_id);
        } else {
            if f.len() > 100_000 {
                f.retain(|_, (_, at)| at.elapsed() < Duration::from_secs(600));
            }
            let e = f.entry(user_id.to_owned()).or_insert((0, Instant::now()));
            e.0 += 1;
            e.1 = Instant::now();
            if e.0 >= 5 {
                tracing::warn!(
                    user = user_id,
                    failures = e.0,
                    "repeated failed logins; backing off"
                );
            }
        }
    }

    /// Checks a user name and password (or an API token given as the password).
    pub async fn login(&self, user_id: &str, password: &str) -> Result<Subject, AuthError> {
        let key: [u8; 32] = Sha256::new()
            .chain_update(user_id.as_bytes())
            .chain_update([0u8])
            .chain_update(password.as_bytes())
            .finalize()
            .into();
        if let Some(s) = self.cached(&key) {
            return Ok(s);
        }
        if self.backoff_remaining(user_id).is_some() {
            return Err(AuthError::BadCredentials);
        }
        let subject = if password.starts_with(TOKEN_PREFIX) {
            self.token_subject(password).await?
        } else {
            let user = match self.db.get_user(user_id).await {
                Ok(u) => u,
                Err(MetaError::NotFound) => {
                    self.record_login(user_id, false);
                    // Same work as a real check, so timing does not reveal which users exist.
                    let _ = verify_password(
                        password,
                        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
                    );
                    return Err(AuthError::BadCredentials);
                }
                Err(e) => return Err(e.into()),
            };
            let (hash, ok_status) = (
                user.password_hash.clone(),
                user.status == "active" || user.status == "changepassword",
            );
            let valid = tokio::task::spawn_blocking({
                let password = password.to_owned();
                move || verify_password(&password, &hash)
            })
            .await
            .unwrap_or(false);
            self.record_login(user_id, valid && ok_status);
            if !valid || !ok_status {
                return Err(AuthError::BadCredentials);
            }
            self.subject_of(&user).await?
        };
        self.remember(key, &subject);
        Ok(subject)
    }

    /// The token signer; `None` before [`Security::bootstrap`].
    pub fn jwt(&self) -> Option<&crate::jwt::Jwt> {
        self.jwt.get()
    }

    /// The subject for a user named by a signed token: the user must still exist and be active,
    /// and the privileges are the user's current ones, not those at signing time.
    pub async fn user_subject(&self, user_id: &str) -> Result<Subject, AuthError> {
        if user_id == ANONYMOUS_USER {
            return self.anonymous_subject().await;
        }
        let key: [u8; 32] = Sha256::new()
            .chain_update(b"subject\0")
            .chain_update(user_id.as_bytes())
            .finalize()
            .into();
        if let Some(s) = self.cached(&key) {
            return Ok(s);
        }
        let user = match self.db.get_user(user_id).await {
            Ok(u) if u.status == "active" => u,
            Ok(_) | Err(MetaError::NotFound) => return Err(AuthError::BadCredentials),
            Err(e) => return Err(e.into()),
        };
        let s = self.subject_of(&user).await?;
        self.remember(key, &s);
        Ok(s)
    }

    /// Resolves an API token to its user.
    pub async fn token_subject(&self, token: &str) -> Result<Subject, AuthError> {
        let Some(t) = self.db.use_token(&token_hash(token)).await? else {
            return Err(AuthError::BadCredentials);
        };
        let user = match self.db.get_user(&t.user_id).await {
            Ok(u) if u.status == "active" => u,
            Ok(_) | Err(MetaError::NotFound) => return Err(AuthError::BadCredentials),
            Err(e) => return Err(e.into()),
        };
        self.subject_of(&user).await
    }

    /// Authenticates from an `Authorization` header value; `None` means anonymous.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Subject, AuthError> {
        let Some(h) = authorization else {
            return self.anonymous_subject().await;
        };
        let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest.trim())
                .map_err(|_| AuthError::BadCredentials)?;
            let text = String::from_utf8(decoded).map_err(|_| AuthError::BadCredentials)?;
            let (user, pass) = text.split_once(':').ok_or(AuthError::BadCredentials)?;
            self.login(user, pass).await
        } else if scheme.eq_ignore_ascii_case("bearer") && rest.trim().starts_with(TOKEN_PREFIX) {
            let token = rest.trim();
            let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            if let Some(s) = self.cached(&key) {
                return Ok(s);
            }
            let s = self.token_subject(token).await?;
            self.remember(key, &s);
            Ok(s)
        } else {
            Err(AuthError::BadCredentials)
        }
    }

    /// The one authorization question. Anonymous callers are told to authenticate (401),
    /// authenticated ones that lack the privilege are refused (403).
    pub fn authorize(&self, subject: &Subject, perm: &Permission<'_>) -> Result<(), AuthError> {
        self.decide(subject, subject.can(perm))
    }

    /// [`Security::authorize`] for a request on one asset, where content selectors count.
    pub fn authorize_at(
        &self,
        subject: &Subject,
        perm: &Permission<'_>,
        path: &str,
    ) -> Result<(), AuthError> {
        self.decide(subject, subject.can_at(perm, path))
    }

    fn decide(&self, subject: &Subject, allowed: bool) -> Result<(), AuthError> {
        if allowed {
            Ok(())
        } else if subject.anonymous {
            Err(AuthError::Unauthenticated)
        } else {
            Err(AuthError::Forbidden {
                user: subject.user_id.clone(),
            })
        }
    }

    /// Sets a user's password (argon2id) and forgets cached logins.
    pub async fn change_password(&self, user_id: &str, password: &str) -> Result<(), AuthError> {
        let hash = hash_password(password)?;
        self.db.set_password_hash(user_id, &hash).await?;
        self.invalidate();
        Ok(())
    }

    /// Issues an API token for a user; the plain token is returned once and stored hashed.
    pub async fn issue_token(
        &self,
        user_id: &str,
        name: &str,
        expires_ms: Option<i64>,
    ) -> Result<(String, crate::meta::ApiToken), AuthError> {
        let token = format!("{TOKEN_PREFIX}{}", random_secret(40));
        let t = self
            .db
            .create_token(user_id, name, &token_hash(&token), expires_ms)
            .await?;
        Ok((token, t))
    }

    pub async fn revoke_token(&self, user_id: &str, id: i64) -> Result<(), AuthError> {
        self.db.delete_token(user_id, id).await?;
        self.invalidate();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privilege_matching() {
        let view = |f, r, a| Permission::RepoView {
            format: f,
            repo: r,
            action: a,
        };
        assert!(grants("nx-all", &view("maven2", "x", Action::Delete)));
        assert!(grants(
            "nx-repository-view-*-*-read",
            &view("maven2", "maven-releases", Action::Read)
        ));
        assert!(!grants(
            "nx-repository-view-*-*-read",
            &view("maven2", "maven-releases", Action::Add)
        ));
        assert!(grants(
            "nx-repository-view-maven2-maven-releases-*",
            &view("maven2", "maven-releases", Action::Add)
        ));
        assert!(!grants(
            "nx-repository-view-maven2-maven-releases-*",
            &view("maven2", "maven-snapshots", Action::Add)
        ));
        assert!(!grants(
            "nx-repository-view-pypi-*-read",
            &view("maven2", "a", Action::Read)
        ));
        assert!(!grants(
            "nx-repository-admin-*-*-*",
            &view("maven2", "a", Action::Read)
        ));
        let app = |d, a| Permission::App {
            domain: d,
            action: a,
        };
        assert!(grants("nx-blobstores-all", &app("blobstores", "read")));
        assert!(grants("nx-blobstores-read", &app("blobstores", "read")));
        assert!(!grants("nx-blobstores-read", &app("blobstores", "update")));
        assert!(!grants("nx-blobstores-read", &app("blob", "read")));
    }

    #[test]
    fn passwords() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("s3cre", &h));
        assert!(!verify_password("x", "!"));
    }
}
