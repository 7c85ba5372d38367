//! Who is asking (authentication) and what they may do (authorization).
//!
//! Privileges are Nexus's names: `nx-all`, `nx-repository-view-<format>-<repo>-<action>`,
//! `nx-repository-admin-<format>-<repo>-<action>` and application privileges `nx-<domain>-<action>`,
//! each part a literal or `*`. [`Security::authorize`] is the one question every route asks.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use base64::Engine;
use rand::{Rng, distributions::Alphanumeric};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::{
    csel::Selector,
    meta::{Db, MetaError, Role, User},
    password::{PasswordError, Passwords},
    privilege::{SelectorGrant, expand},
    throttle::{Limits, Throttle},
};

/// Tokens start with this so a Basic password can be told from a token without a lookup.
pub const TOKEN_PREFIX: &str = "arca_";
pub const ANONYMOUS_USER: &str = "anonymous";
const SETTING_ANONYMOUS: &str = "anonymous_access";
/// The active realms, a JSON array of ids in order; absent means all of [`REALMS`].
const SETTING_REALMS: &str = "security.realms";
/// [`TokenSettings`] as JSON; absent means the defaults.
const SETTING_USER_TOKENS: &str = "security.user-tokens";

/// Local users' passwords (Basic, the UI's login and its session cookie).
pub const REALM_LOCAL: &str = "NexusAuthenticatingRealm";
/// Arca's API tokens (as a Basic password or a Bearer token), Nexus's user tokens.
pub const REALM_TOKENS: &str = "User-Token-Realm";
/// Registry bearer tokens Arca signs at `/v2/token` (Nexus's Docker Bearer Token Realm).
pub const REALM_DOCKER: &str = "DockerToken";
/// The realms Arca has, by Nexus's id and name, in their default order.
pub const REALMS: [(&str, &str); 3] = [
    (REALM_LOCAL, "Local Authenticating Realm"),
    (REALM_TOKENS, "User Token Realm"),
    (REALM_DOCKER, "Docker Bearer Token Realm"),
];

/// Nexus's user-token settings, applied to Arca's API tokens (`enabled` is the token realm).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenSettings {
    /// Tokens stop working this many days after they were created.
    pub expiration_enabled: bool,
    pub expiration_days: i64,
    /// Repository content only with a token, not a password.
    pub protect_content: bool,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            expiration_enabled: false,
            expiration_days: 30,
            protect_content: false,
        }
    }
}

/// Realms and token settings, read together and cached like the anonymous setting.
#[derive(Clone, Debug)]
struct AuthSettings {
    realms: Vec<String>,
    tokens: TokenSettings,
}

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
    /// Whether the action changes what a repository holds (refused while the server is frozen).
    pub fn writes(self) -> bool {
        matches!(self, Self::Add | Self::Edit | Self::Delete)
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

/// How a caller proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    Anonymous,
    /// A password, checked on this request or cached since.
    Password,
    /// An API token: it may use what its user may, but not mint tokens or change passwords.
    Token,
    /// A token Arca signed after a password login: a browser session or a registry token.
    Session,
    /// Arca itself.
    System,
}

/// The caller of a request, with its privileges resolved from its roles.
#[derive(Clone, Debug)]
pub struct Subject {
    pub user_id: String,
    pub anonymous: bool,
    pub via: Via,
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
            via: Via::System,
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
    /// Too many failed logins from this address (for this user): refused unchecked.
    #[error("too many failed logins; retry in {} s", .0.as_secs().max(1))]
    Throttled(Duration),
    /// Every password-hashing slot is taken and its queue full.
    #[error("too many logins in progress; retry shortly")]
    Busy,
    /// Something only a password login may do (not an API token).
    #[error("{0}")]
    NeedsPassword(&'static str),
    #[error("metadata store: {0}")]
    Meta(#[from] MetaError),
}

impl AuthError {
    /// Seconds a client should wait before retrying, for refusals that pass.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::Throttled(d) => Some(d.as_secs().max(1)),
            Self::Busy => Some(1),
            _ => None,
        }
    }
}

impl From<PasswordError> for AuthError {
    fn from(e: PasswordError) -> Self {
        match e {
            PasswordError::Busy => Self::Busy,
            PasswordError::Hash(m) => Self::Meta(MetaError::Invalid(format!("password: {m}"))),
        }
    }
}

/// A new argon2id hash, computed on the calling thread: for tests and tools. The server hashes
/// through [`Security::hash_password`], on the bounded pool.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    crate::password::hash_with(&argon2::Argon2::default(), password).map_err(AuthError::from)
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

/// How long a verified credential is trusted before it is checked against the database again.
/// The re-check reads rows (user, token, roles); it repeats the argon2 hash only when the
/// stored password hash changed, so a busy client never pays for a hash twice.
const REVALIDATE: Duration = Duration::from_secs(15);
/// Credentials cached at most; beyond, the oldest are dropped.
const CACHE_MAX: usize = 10_000;

/// A credential Arca verified.
struct Verified {
    subject: Subject,
    /// What it was verified against: the user's password hash, or the token's hash. A later
    /// check finding the same proof needs no hash.
    proof: String,
    /// Sessions and registry tokens issued before this (ms) are no longer valid.
    not_before_ms: i64,
    checked: Instant,
    generation: u64,
}

/// Authentication and authorization over the metadata store.
///
/// Verified credentials are cached per node: fresh for [`REVALIDATE`], then re-checked against
/// the database by one request at a time per credential (single flight), while any security
/// change on this node ([`Security::invalidate`]) makes every entry re-check at once. Password
/// hashing runs on [`Passwords`], bounded; failed logins feed [`Throttle`].
pub struct Security {
    db: Db,
    cache: Mutex<HashMap<[u8; 32], Verified>>,
    flights: Mutex<HashMap<[u8; 32], std::sync::Weak<tokio::sync::Mutex<()>>>>,
    generation: AtomicU64,
    /// Logins refused unchecked by the throttle (for `/metrics`).
    throttled: AtomicU64,
    passwords: Passwords,
    throttle: Throttle,
    anonymous: Mutex<Option<(bool, Instant)>>,
    settings: Mutex<Option<(AuthSettings, Instant)>>,
    privileges: Mutex<Option<(Arc<PrivilegeTable>, Instant)>>,
    /// Set by [`Security::bootstrap`].
    jwt: std::sync::OnceLock<crate::jwt::Jwt>,
}

fn key_of(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

impl Security {
    pub fn new(db: Db) -> Self {
        Self::with(db, Passwords::for_this_machine(), Limits::default())
    }

    /// With a given hashing pool and throttle limits (tests tune them).
    pub fn with(db: Db, passwords: Passwords, limits: Limits) -> Self {
        Self {
            db,
            cache: Mutex::new(HashMap::new()),
            flights: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            passwords,
            throttle: Throttle::new(limits),
            anonymous: Mutex::new(None),
            settings: Mutex::new(None),
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
            not_before_ms: 0,
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
                let u = user("admin", self.hash_password(pw).await?, &["nx-admin"]);
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
        let generation = self.generation.load(Ordering::Acquire);
        let v = self.db.get_setting(SETTING_ANONYMOUS).await?.as_deref() == Some("true");
        // Not cached when a change was announced meanwhile: the value may predate it.
        if let Ok(mut g) = self.anonymous.lock()
            && self.generation.load(Ordering::Acquire) == generation
        {
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
        self.invalidate();
        Ok(())
    }

    /// Makes every cached login re-check the database on its next use (no password is hashed
    /// again unless it changed), e.g. after a password, role or privilege change.
    pub fn invalidate(&self) {
        self.invalidate_local();
        crate::cluster::announce_later(&self.db, crate::cluster::Event::Security);
    }

    /// Feeds a credential check's outcome to the throttle, here and (announced) on every other
    /// node, so that a flood spread over the nodes backs off as on one.
    fn login_checked(&self, from: Option<IpAddr>, user: &str, ok: bool) {
        self.throttle.record(from, user, ok);
        crate::cluster::announce_later(
            &self.db,
            crate::cluster::Event::Login {
                node: crate::cluster::node_id().to_owned(),
                addr: from,
                user: user.to_owned(),
                ok,
            },
        );
    }

    /// Another node checked a credential (see [`Security::login_checked`]).
    pub fn login_checked_elsewhere(&self, from: Option<IpAddr>, user: &str, ok: bool) {
        self.throttle.record(from, user, ok);
    }

    /// [`Security::invalidate`] on this node only: another node announced a change.
    pub fn invalidate_local(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut p) = self.privileges.lock() {
            *p = None;
        }
        if let Ok(mut a) = self.anonymous.lock() {
            *a = None;
        }
        if let Ok(mut a) = self.settings.lock() {
            *a = None;
        }
    }

    async fn auth_settings(&self) -> Result<AuthSettings, AuthError> {
        if let Ok(g) = self.settings.lock()
            && let Some((v, at)) = &*g
            && at.elapsed() < Duration::from_secs(5)
        {
            return Ok(v.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
        // A stored value that does not parse counts as absent: the defaults let everyone in
        // as before, rather than locking the administrator out.
        let realms = self
            .db
            .get_setting(SETTING_REALMS)
            .await?
            .and_then(|v| serde_json::from_str::<Vec<String>>(&v).ok())
            .unwrap_or_else(|| REALMS.iter().map(|(id, _)| id.to_string()).collect());
        let tokens = self
            .db
            .get_setting(SETTING_USER_TOKENS)
            .await?
            .and_then(|v| serde_json::from_str(&v).ok())
            .unwrap_or_default();
        let v = AuthSettings { realms, tokens };
        if let Ok(mut g) = self.settings.lock()
            && self.generation.load(Ordering::Acquire) == generation
        {
            *g = Some((v.clone(), Instant::now()));
        }
        Ok(v)
    }

    /// The active realm ids, in order.
    pub async fn active_realms(&self) -> Result<Vec<String>, AuthError> {
        Ok(self.auth_settings().await?.realms)
    }

    /// Whether credentials of realm `id` are accepted now.
    pub async fn realm_active(&self, id: &str) -> Result<bool, AuthError> {
        Ok(self.auth_settings().await?.realms.iter().any(|r| r == id))
    }

    /// Refuses (unchecked) credentials of an inactive realm.
    async fn require_realm(&self, id: &str) -> Result<(), AuthError> {
        if self.realm_active(id).await? {
            Ok(())
        } else {
            Err(AuthError::BadCredentials)
        }
    }

    /// Stores the active realms (ids of [`REALMS`], checked by the caller) and makes every
    /// node re-check cached logins.
    pub async fn set_active_realms(&self, ids: &[String]) -> Result<(), AuthError> {
        let v = serde_json::to_string(ids).map_err(MetaError::from)?;
        self.db.set_setting(SETTING_REALMS, &v).await?;
        self.invalidate();
        Ok(())
    }

    pub async fn token_settings(&self) -> Result<TokenSettings, AuthError> {
        Ok(self.auth_settings().await?.tokens)
    }

    pub async fn set_token_settings(&self, t: &TokenSettings) -> Result<(), AuthError> {
        let v = serde_json::to_string(t).map_err(MetaError::from)?;
        self.db.set_setting(SETTING_USER_TOKENS, &v).await?;
        self.invalidate();
        Ok(())
    }

    /// Whether an administrator (one who may change these settings) could still sign in with
    /// only `realms` active: by password, or by an API token such a user holds.
    pub async fn admin_can_enter(&self, realms: &[String]) -> Result<bool, AuthError> {
        if realms.iter().any(|r| r == REALM_LOCAL) {
            return Ok(true);
        }
        if !realms.iter().any(|r| r == REALM_TOKENS) {
            return Ok(false);
        }
        let now = crate::model::now_ms();
        let admin = Permission::App {
            domain: "settings",
            action: "update",
        };
        for u in self.db.list_users().await? {
            if u.status != "active" || u.user_id == ANONYMOUS_USER {
                continue;
            }
            let live = self
                .db
                .list_tokens(&u.user_id)
                .await?
                .iter()
                .any(|t| t.expires_ms.is_none_or(|e| e > now));
            if live && self.subject_of(&u, Via::Token).await?.can(&admin) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Deletes every API token (Nexus's "reset all user tokens").
    pub async fn reset_all_tokens(&self) -> Result<u64, AuthError> {
        let n = self.db.delete_all_tokens().await?;
        self.invalidate();
        Ok(n)
    }

    async fn privilege_table(&self) -> Result<Arc<PrivilegeTable>, AuthError> {
        if let Ok(g) = self.privileges.lock()
            && let Some((t, at)) = &*g
            && at.elapsed() < Duration::from_secs(5)
        {
            return Ok(t.clone());
        }
        let generation = self.generation.load(Ordering::Acquire);
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
        if let Ok(mut g) = self.privileges.lock()
            && self.generation.load(Ordering::Acquire) == generation
        {
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

    async fn subject_of(&self, user: &User, via: Via) -> Result<Subject, AuthError> {
        let (privileges, selectors) = self.privileges_of(&user.roles).await?;
        Ok(Subject {
            user_id: user.user_id.clone(),
            anonymous: false,
            via,
            privileges: Arc::new(privileges),
            selectors: Arc::new(selectors),
        })
    }

    /// The anonymous caller, cached like a credential but re-read every 5 s (as the anonymous
    /// setting always was): without it every anonymous request read the user and its roles.
    pub async fn anonymous_subject(&self) -> Result<Subject, AuthError> {
        let key = key_of(&[b"anonymous"]);
        if let Some(s) = self.fresh_within(&key, Duration::from_secs(5)) {
            return Ok(s);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let (privileges, selectors) = if self.anonymous_enabled().await? {
            match self.db.get_user(ANONYMOUS_USER).await {
                Ok(u) => self.privileges_of(&u.roles).await?,
                Err(MetaError::NotFound) => Default::default(),
                Err(e) => return Err(e.into()),
            }
        } else {
            Default::default()
        };
        let s = Subject {
            user_id: ANONYMOUS_USER.into(),
            anonymous: true,
            via: Via::Anonymous,
            privileges: Arc::new(privileges),
            selectors: Arc::new(selectors),
        };
        self.remember(key, &s, String::new(), 0, generation);
        Ok(s)
    }

    fn fresh(&self, key: &[u8; 32]) -> Option<(Subject, i64)> {
        let generation = self.generation.load(Ordering::Acquire);
        let c = self.cache.lock().ok()?;
        c.get(key)
            .filter(|v| v.generation == generation && v.checked.elapsed() < REVALIDATE)
            .map(|v| (v.subject.clone(), v.not_before_ms))
    }

    fn fresh_within(&self, key: &[u8; 32], max_age: Duration) -> Option<Subject> {
        let generation = self.generation.load(Ordering::Acquire);
        let c = self.cache.lock().ok()?;
        c.get(key)
            .filter(|v| v.generation == generation && v.checked.elapsed() < max_age)
            .map(|v| v.subject.clone())
    }

    /// What a credential was last verified against, however old.
    fn proof(&self, key: &[u8; 32]) -> Option<String> {
        let c = self.cache.lock().ok()?;
        c.get(key).map(|v| v.proof.clone())
    }

    /// Caches a check that began at `generation` (read before the rows were): an invalidation
    /// (here or announced by another node) during the check leaves the entry stale at once.
    fn remember(
        &self,
        key: [u8; 32],
        subject: &Subject,
        proof: String,
        not_before_ms: i64,
        generation: u64,
    ) {
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_MAX {
                let cutoff = REVALIDATE * 4;
                c.retain(|_, v| v.checked.elapsed() < cutoff);
                if c.len() >= CACHE_MAX {
                    c.clear();
                }
            }
            c.insert(
                key,
                Verified {
                    subject: subject.clone(),
                    proof,
                    not_before_ms,
                    checked: Instant::now(),
                    generation,
                },
            );
        }
    }

    fn forget(&self, key: &[u8; 32]) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(key);
        }
    }

    /// The lock that makes checks of one credential run one at a time.
    fn flight(&self, key: [u8; 32]) -> Arc<tokio::sync::Mutex<()>> {
        let Ok(mut f) = self.flights.lock() else {
            return Arc::new(tokio::sync::Mutex::new(()));
        };
        if let Some(l) = f.get(&key).and_then(std::sync::Weak::upgrade) {
            return l;
        }
        if f.len() >= 1024 {
            f.retain(|_, w| w.strong_count() > 0);
        }
        let l = Arc::new(tokio::sync::Mutex::new(()));
        f.insert(key, Arc::downgrade(&l));
        l
    }

    /// Login counters: passwords checked, refused because hashing was busy, refused by the
    /// throttle.
    pub fn login_counters(&self) -> [(&'static str, &'static str, u64); 3] {
        let st = self.passwords.stats();
        [
            (
                "arca_password_checks_total",
                "Passwords checked with argon2 (a cached credential needs none).",
                st.checked.load(Ordering::Relaxed),
            ),
            (
                "arca_password_checks_refused_total",
                "Logins refused because every hashing slot was busy.",
                st.refused.load(Ordering::Relaxed),
            ),
            (
                "arca_logins_throttled_total",
                "Logins refused unchecked after repeated failures from the address.",
                self.throttled.load(Ordering::Relaxed),
            ),
        ]
    }

    /// A new argon2id hash of `password`, on the bounded hashing pool.
    pub async fn hash_password(&self, password: &str) -> Result<String, AuthError> {
        Ok(self.passwords.hash(password).await?)
    }

    /// Checks a user name and password (or an API token given as the password) sent from
    /// `from`. Refused unchecked while `from` is throttled for that user.
    pub async fn login(
        &self,
        user_id: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<Subject, AuthError> {
        self.require_realm(if password.starts_with(TOKEN_PREFIX) {
            REALM_TOKENS
        } else {
            REALM_LOCAL
        })
        .await?;
        let key = key_of(&[b"login", user_id.as_bytes(), password.as_bytes()]);
        if let Some((s, _)) = self.fresh(&key) {
            return Ok(s);
        }
        let flight = self.flight(key);
        let _one = flight.lock().await;
        if let Some((s, _)) = self.fresh(&key) {
            return Ok(s);
        }
        let generation = self.generation.load(Ordering::Acquire);
        if password.starts_with(TOKEN_PREFIX) {
            return self.token_login(key, password, from, generation).await;
        }
        let user = match self.db.get_user(user_id).await {
            Ok(u) => Some(u),
            Err(MetaError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        let active = user
            .as_ref()
            .is_some_and(|u| u.status == "active" || u.status == "changepassword");
        let hash = user.as_ref().map(|u| u.password_hash.as_str());
        // Verified before against the very hash stored now: the password is still right.
        let known = hash.is_some() && self.proof(&key).as_deref() == hash;
        if !known {
            if let Some(wait) = self.throttle.wait(from, user_id) {
                self.throttled.fetch_add(1, Ordering::Relaxed);
                return Err(AuthError::Throttled(wait));
            }
            // An unknown user is checked against a decoy, at the same cost.
            let ok = self.passwords.verify(password, hash).await?;
            self.login_checked(from, user_id, ok && active);
            if !ok {
                self.forget(&key);
                return Err(AuthError::BadCredentials);
            }
        }
        let Some(user) = user.filter(|_| active) else {
            self.forget(&key);
            return Err(AuthError::BadCredentials);
        };
        let s = self.subject_of(&user, Via::Password).await?;
        self.remember(
            key,
            &s,
            user.password_hash.clone(),
            user.not_before_ms,
            generation,
        );
        Ok(s)
    }

    async fn token_login(
        &self,
        key: [u8; 32],
        token: &str,
        from: Option<IpAddr>,
        generation: u64,
    ) -> Result<Subject, AuthError> {
        let hash = token_hash(token);
        let known = self.proof(&key).as_deref() == Some(hash.as_str());
        if !known && let Some(wait) = self.throttle.wait(from, "") {
            self.throttled.fetch_add(1, Ordering::Relaxed);
            return Err(AuthError::Throttled(wait));
        }
        match self.token_subject(&hash).await {
            Ok(s) => {
                self.remember(key, &s, hash, 0, generation);
                Ok(s)
            }
            Err(AuthError::BadCredentials) => {
                self.forget(&key);
                if !known {
                    self.login_checked(from, "", false);
                }
                Err(AuthError::BadCredentials)
            }
            Err(e) => Err(e),
        }
    }

    /// The token signer; `None` before [`Security::bootstrap`].
    pub fn jwt(&self) -> Option<&crate::jwt::Jwt> {
        self.jwt.get()
    }

    /// The subject for a user named by a registry token Arca signed at `issued_ms` (the
    /// docker realm): as [`Security::session_subject`].
    pub async fn user_subject(&self, user_id: &str, issued_ms: i64) -> Result<Subject, AuthError> {
        if user_id == ANONYMOUS_USER {
            return self.anonymous_subject().await;
        }
        self.require_realm(REALM_DOCKER).await?;
        self.signed_subject(user_id, issued_ms).await
    }

    /// The subject for a user named by a browser session Arca signed at `issued_ms` after a
    /// password login (the local realm).
    pub async fn session_subject(
        &self,
        user_id: &str,
        issued_ms: i64,
    ) -> Result<Subject, AuthError> {
        if user_id == ANONYMOUS_USER {
            return self.anonymous_subject().await;
        }
        self.require_realm(REALM_LOCAL).await?;
        self.signed_subject(user_id, issued_ms).await
    }

    /// The user must still exist and be active, must not have signed out or changed password
    /// since `issued_ms`, and the privileges are the user's current ones.
    async fn signed_subject(&self, user_id: &str, issued_ms: i64) -> Result<Subject, AuthError> {
        let key = key_of(&[b"signed", user_id.as_bytes()]);
        let (s, not_before) = match self.fresh(&key) {
            Some(hit) => hit,
            None => {
                let flight = self.flight(key);
                let _one = flight.lock().await;
                match self.fresh(&key) {
                    Some(hit) => hit,
                    None => {
                        let generation = self.generation.load(Ordering::Acquire);
                        let user = match self.db.get_user(user_id).await {
                            Ok(u) if u.status == "active" || u.status == "changepassword" => u,
                            Ok(_) | Err(MetaError::NotFound) => {
                                self.forget(&key);
                                return Err(AuthError::BadCredentials);
                            }
                            Err(e) => return Err(e.into()),
                        };
                        let s = self.subject_of(&user, Via::Session).await?;
                        self.remember(key, &s, String::new(), user.not_before_ms, generation);
                        (s, user.not_before_ms)
                    }
                }
            }
        };
        if issued_ms < not_before {
            return Err(AuthError::BadCredentials);
        }
        Ok(s)
    }

    /// Resolves an API token (by its hash) to its user.
    async fn token_subject(&self, hash: &str) -> Result<Subject, AuthError> {
        let Some(t) = self.db.use_token(hash).await? else {
            return Err(AuthError::BadCredentials);
        };
        let policy = self.token_settings().await?;
        if policy.expiration_enabled
            && crate::model::now_ms()
                >= t.created_ms
                    .saturating_add(policy.expiration_days.saturating_mul(86_400_000))
        {
            return Err(AuthError::BadCredentials);
        }
        let user = match self.db.get_user(&t.user_id).await {
            Ok(u) if u.status == "active" => u,
            Ok(_) | Err(MetaError::NotFound) => return Err(AuthError::BadCredentials),
            Err(e) => return Err(e.into()),
        };
        self.subject_of(&user, Via::Token).await
    }

    /// Authenticates from an `Authorization` header value sent from `from`; `None` means
    /// anonymous.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        from: Option<IpAddr>,
    ) -> Result<Subject, AuthError> {
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
            self.login(user, pass, from).await
        } else if scheme.eq_ignore_ascii_case("bearer") && rest.trim().starts_with(TOKEN_PREFIX) {
            self.require_realm(REALM_TOKENS).await?;
            let token = rest.trim();
            let key = key_of(&[b"login", b"", token.as_bytes()]);
            if let Some((s, _)) = self.fresh(&key) {
                return Ok(s);
            }
            let flight = self.flight(key);
            let _one = flight.lock().await;
            if let Some((s, _)) = self.fresh(&key) {
                return Ok(s);
            }
            let generation = self.generation.load(Ordering::Acquire);
            self.token_login(key, token, from, generation).await
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
    /// Sessions and registry tokens issued before now end (the stored password-change time).
    pub async fn change_password(&self, user_id: &str, password: &str) -> Result<(), AuthError> {
        let hash = self.hash_password(password).await?;
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

    /// Ends every browser session and registry token `user_id` holds (sign-out).
    pub async fn end_sessions(&self, user_id: &str) -> Result<(), AuthError> {
        self.db.end_sessions(user_id).await?;
        self.invalidate();
        Ok(())
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
        let mut mem = Vec::new();
        assert!(crate::password::verify_with("s3cret", &h, &mut mem));
        assert!(!crate::password::verify_with("s3cre", &h, &mut mem));
    }
}
