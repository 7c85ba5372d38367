//! Package names, versions, where a package's files live, and which npm endpoint a path is.

use std::cmp::Ordering;

use actix_web::http::Method;
use arca_core::security::Action;

use crate::error::{Result, bad};

/// A package name: `name` or `@scope/name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PkgName {
    /// As npm writes it: `@scope/name`.
    pub full: String,
    /// The scope without `@`.
    pub scope: Option<String>,
    /// The name without its scope: a tarball's file name starts with it.
    pub bare: String,
}

/// npm's own limit on a package name's length.
const NAME_MAX: usize = 214;

fn name_part_ok(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('.')
        && !s.starts_with('_')
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'.' | b'_' | b'~' | b'!' | b'*' | b'\'' | b'(' | b')'
                )
        })
}

impl PkgName {
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() > NAME_MAX {
            return Err(bad(format!(
                "package name longer than {NAME_MAX} characters"
            )));
        }
        let invalid = || bad(format!("invalid package name {s:?}"));
        let (scope, bare) = match s.strip_prefix('@') {
            Some(rest) => {
                let (scope, bare) = rest.split_once('/').ok_or_else(invalid)?;
                (Some(scope.to_owned()), bare.to_owned())
            }
            None => (None, s.to_owned()),
        };
        if !name_part_ok(&bare) || scope.as_deref().is_some_and(|sc| !name_part_ok(sc)) {
            return Err(invalid());
        }
        if matches!(bare.as_str(), "node_modules" | "favicon.ico") {
            return Err(invalid());
        }
        Ok(Self {
            full: s.to_owned(),
            scope,
            bare,
        })
    }

    /// The repository folder of the package's tarballs: `{name}/-/`.
    pub fn dir(&self) -> String {
        format!("{}/-/", self.full)
    }

    pub fn tarball_file(&self, version: &str) -> String {
        format!("{}-{version}.tgz", self.bare)
    }

    /// `{name}/-/{bare}-{version}.tgz`: the same in hosted and proxy repositories, so a group
    /// finds a tarball by one path in any member.
    pub fn tarball_path(&self, version: &str) -> String {
        format!("{}{}", self.dir(), self.tarball_file(version))
    }

    /// The version a tarball file name of this package carries.
    pub fn version_of<'a>(&self, file: &'a str) -> Option<&'a str> {
        file.strip_prefix(&self.bare)?
            .strip_prefix('-')?
            .strip_suffix(".tgz")
            .filter(|v| version_ok(v))
    }

    /// The name as a registry URL path segment (`@scope%2fname`).
    pub fn escaped(&self) -> String {
        self.full.replacen('/', "%2f", 1)
    }
}

/// A version string safe as part of a path (semver's characters).
pub fn version_ok(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 256
        && v.as_bytes()[0].is_ascii_alphanumeric()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_'))
}

/// A dist-tag: not a version (npm refuses tags that parse as semver ranges; this is the
/// part that matters here: a tag must not look like a version, and must be path-safe).
pub fn tag_ok(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 256
        && !t.as_bytes()[0].is_ascii_digit()
        && !t.starts_with('v')
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

#[derive(Debug, PartialEq, Eq)]
enum Ident {
    Num(u64),
    Text(String),
}

/// Semantic version precedence, lenient: what does not parse sorts first, by text.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    match (parse_semver(a), parse_semver(b)) {
        (Some(x), Some(y)) => x.0.cmp(&y.0).then_with(|| match (&x.1, &y.1) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(p), Some(q)) => {
                for (i, j) in p.iter().zip(q.iter()) {
                    let o = match (i, j) {
                        (Ident::Num(m), Ident::Num(n)) => m.cmp(n),
                        (Ident::Num(_), Ident::Text(_)) => Ordering::Less,
                        (Ident::Text(_), Ident::Num(_)) => Ordering::Greater,
                        (Ident::Text(s), Ident::Text(t)) => s.cmp(t),
                    };
                    if o != Ordering::Equal {
                        return o;
                    }
                }
                p.len().cmp(&q.len())
            }
        }),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => a.cmp(b),
    }
}

pub fn is_prerelease(v: &str) -> bool {
    parse_semver(v).is_some_and(|p| p.1.is_some())
}

type Semver = ((u64, u64, u64), Option<Vec<Ident>>);

fn parse_semver(v: &str) -> Option<Semver> {
    let v = v.trim().trim_start_matches('v');
    let v = v.split('+').next()?;
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let mut it = core.split('.').map(|n| n.parse::<u64>().ok());
    let (Some(Some(a)), Some(Some(b)), Some(Some(c)), None) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return None;
    };
    let pre = pre.map(|p| {
        p.split('.')
            .map(|s| match s.parse::<u64>() {
                Ok(n) => Ident::Num(n),
                Err(_) => Ident::Text(s.to_owned()),
            })
            .collect()
    });
    Some(((a, b, c), pre))
}

/// What a request path (after `/repository/{repo}/`, percent-decoded, so `@scope%2fname` and
/// `@scope/name` are one) asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// The repository root: a browse listing.
    Root,
    Ping,
    Whoami,
    Search,
    /// `POST /-/v1/login`: web login, which Arca does not offer (npm then falls back).
    WebLogin,
    /// `PUT /-/user/org.couchdb.user:{name}`
    Login(String),
    /// `DELETE /-/user/token/{token}`
    Logout(String),
    DistTags(PkgName),
    DistTag(PkgName, String),
    /// `/-/npm/v1/security/{tail}`: `npm audit`, passed to the remote.
    Audit(String),
    /// `/{name}` or `/{name}/-rev/{rev}`
    Packument(PkgName),
    /// `/{name}/{version or tag}`
    Version(PkgName, String),
    /// `/{name}/-/{file}` (and `/-rev/{rev}` after it, for DELETE)
    Tarball(PkgName, String),
    Unknown,
}

/// Splits `@scope/name/rest…` or `name/rest…` into the name and the remaining segments.
fn split_name(path: &str) -> Option<(PkgName, Vec<&str>)> {
    let segs: Vec<&str> = path.split('/').collect();
    let n = if segs.first()?.starts_with('@') { 2 } else { 1 };
    if segs.len() < n {
        return None;
    }
    let name = PkgName::parse(&segs[..n].join("/")).ok()?;
    let mut rest = segs[n..].to_vec();
    if rest.last() == Some(&"") {
        rest.pop();
    }
    Some((name, rest))
}

impl Route {
    pub fn parse(path: &str) -> Route {
        if path.is_empty() {
            return Route::Root;
        }
        if let Some(tail) = path.strip_prefix("-/") {
            return match tail.trim_end_matches('/') {
                "ping" => Route::Ping,
                "whoami" => Route::Whoami,
                "v1/search" => Route::Search,
                "v1/login" => Route::WebLogin,
                t => {
                    if let Some(u) = t.strip_prefix("user/org.couchdb.user:") {
                        let user = u.split('/').next().unwrap_or_default();
                        return Route::Login(user.to_owned());
                    }
                    if let Some(tok) = t.strip_prefix("user/token/") {
                        return Route::Logout(tok.to_owned());
                    }
                    // Only npm's audit endpoints: the tail goes into the remote's URL, sent with
                    // the proxy's credentials.
                    if let Some(s) = t.strip_prefix("npm/v1/security/") {
                        return match s {
                            "advisories/bulk" | "audits/quick" | "audits" => {
                                Route::Audit(s.to_owned())
                            }
                            _ => Route::Unknown,
                        };
                    }
                    if let Some(p) = t.strip_prefix("package/")
                        && let Some((name, rest)) = split_name(p)
                    {
                        return match rest.as_slice() {
                            ["dist-tags"] => Route::DistTags(name),
                            ["dist-tags", tag] => Route::DistTag(name, (*tag).to_owned()),
                            _ => Route::Unknown,
                        };
                    }
                    Route::Unknown
                }
            };
        }
        let Some((name, rest)) = split_name(path) else {
            return Route::Unknown;
        };
        match rest.as_slice() {
            [] | ["-rev", _] => Route::Packument(name),
            ["-", file] | ["-", file, "-rev", _] => Route::Tarball(name, (*file).to_owned()),
            [v] if *v != "-" => Route::Version(name, (*v).to_owned()),
            _ => Route::Unknown,
        }
    }

    /// The privilege a request needs. Logging in needs none beyond reading the repository:
    /// the password is the proof.
    pub fn action(&self, method: &Method) -> Action {
        let write = |m: &Method| match *m {
            Method::GET | Method::HEAD => Action::Read,
            Method::DELETE => Action::Delete,
            _ => Action::Add,
        };
        match self {
            Route::Root => Action::Browse,
            Route::Ping
            | Route::Whoami
            | Route::Search
            | Route::WebLogin
            | Route::Login(_)
            | Route::Logout(_)
            | Route::Audit(_) => Action::Read,
            Route::DistTags(_) => Action::Read,
            Route::DistTag(..) => match *method {
                Method::GET | Method::HEAD => Action::Read,
                _ => Action::Edit,
            },
            Route::Packument(_) | Route::Tarball(..) | Route::Version(..) => write(method),
            Route::Unknown => arca_core::format::default_action(method, ""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        let n = PkgName::parse("@acme/widget").expect("scoped");
        assert_eq!(n.scope.as_deref(), Some("acme"));
        assert_eq!(n.tarball_path("1.0.0"), "@acme/widget/-/widget-1.0.0.tgz");
        assert_eq!(n.escaped(), "@acme%2fwidget");
        assert_eq!(
            n.version_of("widget-1.2.3-beta.1.tgz"),
            Some("1.2.3-beta.1")
        );
        assert_eq!(n.version_of("other-1.0.0.tgz"), None);
        assert!(PkgName::parse("../x").is_err());
        assert!(PkgName::parse("@a").is_err());
        assert!(PkgName::parse(".hidden").is_err());
        assert!(PkgName::parse("a b").is_err());
    }

    #[test]
    fn routes() {
        let p = |s: &str| Route::parse(s);
        assert_eq!(
            p("lodash"),
            Route::Packument(PkgName::parse("lodash").unwrap())
        );
        assert_eq!(p("@a/b"), Route::Packument(PkgName::parse("@a/b").unwrap()));
        assert_eq!(
            p("@a/b/-rev/3-x"),
            Route::Packument(PkgName::parse("@a/b").unwrap())
        );
        assert_eq!(
            p("@a/b/-/b-1.0.0.tgz/-rev/1"),
            Route::Tarball(PkgName::parse("@a/b").unwrap(), "b-1.0.0.tgz".into())
        );
        assert_eq!(
            p("x/1.0.0"),
            Route::Version(PkgName::parse("x").unwrap(), "1.0.0".into())
        );
        assert_eq!(p("-/user/org.couchdb.user:bob"), Route::Login("bob".into()));
        assert_eq!(
            p("-/package/@a/b/dist-tags/beta"),
            Route::DistTag(PkgName::parse("@a/b").unwrap(), "beta".into())
        );
        assert_eq!(
            p("-/npm/v1/security/advisories/bulk"),
            Route::Audit("advisories/bulk".into())
        );
        // Only npm's audit endpoints: anything else would reach the remote with its credentials.
        assert_eq!(p("-/npm/v1/security/../../admin"), Route::Unknown);
        assert_eq!(
            p("-/npm/v1/security/audits/quick"),
            Route::Audit("audits/quick".into())
        );
        assert_eq!(p("-/nothing"), Route::Unknown);
    }

    #[test]
    fn privileges_asked() {
        let a = |m: Method, p: &str| Route::parse(p).action(&m);
        assert_eq!(a(Method::GET, "x"), Action::Read);
        assert_eq!(a(Method::PUT, "x"), Action::Add);
        assert_eq!(a(Method::PUT, "x/-rev/1"), Action::Add);
        assert_eq!(a(Method::DELETE, "x/-rev/1"), Action::Delete);
        assert_eq!(a(Method::DELETE, "x/-/x-1.0.0.tgz/-rev/1"), Action::Delete);
        assert_eq!(a(Method::PUT, "-/package/x/dist-tags/beta"), Action::Edit);
        assert_eq!(
            a(Method::DELETE, "-/package/x/dist-tags/beta"),
            Action::Edit
        );
        assert_eq!(a(Method::GET, "-/package/x/dist-tags"), Action::Read);
        assert_eq!(a(Method::PUT, "-/user/org.couchdb.user:u"), Action::Read);
        assert_eq!(a(Method::GET, ""), Action::Browse);
        assert_eq!(a(Method::PUT, "-/nothing"), Action::Add);
    }

    #[test]
    fn version_order() {
        let mut v = vec![
            "1.10.0",
            "1.2.0",
            "1.2.0-beta.2",
            "1.2.0-beta.10",
            "0.9.9",
            "junk",
        ];
        v.sort_by(|a, b| compare_versions(a, b));
        assert_eq!(
            v,
            [
                "junk",
                "0.9.9",
                "1.2.0-beta.2",
                "1.2.0-beta.10",
                "1.2.0",
                "1.10.0"
            ]
        );
    }
}
