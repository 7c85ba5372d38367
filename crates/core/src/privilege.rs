//! Nexus's typed privileges. A stored privilege expands to the name patterns
//! [`crate::security::grants`] reads (`nx-repository-view-maven2-releases-read`, …) and, for
//! content-selector privileges, to [`SelectorGrant`]s that also look at the asset's path.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{csel::Selector, meta::PrivilegeRow, security::Action};

/// The kinds Nexus creates through `security/privileges/<kind>`.
pub const KINDS: &[&str] = &[
    "application",
    "repository-view",
    "repository-admin",
    "repository-content-selector",
    "wildcard",
];

/// A privilege's own fields, as Nexus's `ApiPrivilegeRequest` spells them.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Properties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_selector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<String>>,
    /// A `script` privilege's script (Arca runs no scripts: such privileges grant nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub script_name: Option<String>,
}

/// Access a content-selector privilege gives: `actions` on assets of repositories matching
/// `format`/`repo` (each may be `*`) whose path the selector selects.
#[derive(Clone, Debug)]
pub struct SelectorGrant {
    pub selector: Arc<Selector>,
    pub format: String,
    pub repo: String,
    /// Lower-case actions; `*` for all.
    pub actions: Vec<String>,
}

impl SelectorGrant {
    pub fn allows(&self, format: &str, repo: &str, action: Action, path: &str) -> bool {
        (self.format == "*" || self.format == format)
            && (self.repo == "*" || self.repo == repo)
            && self
                .actions
                .iter()
                .any(|a| a == "*" || a == action.as_str())
            && self.selector.matches(format, path)
    }
}

fn lower_actions(actions: &[String], all: &str) -> Vec<String> {
    actions
        .iter()
        .map(|a| {
            let a = a.to_ascii_lowercase();
            if a == "all" || a == "*" {
                all.to_owned()
            } else {
                a
            }
        })
        .collect()
}

/// Name patterns for a Shiro-style wildcard such as `nexus:repository-view:maven2:*:read,browse`
/// or `nexus:blobstores:*`. `None` when the pattern is not one Arca can enforce.
pub fn wildcard_patterns(pattern: &str) -> Option<Vec<String>> {
    let parts: Vec<&str> = pattern.trim().split(':').collect();
    let actions = |s: Option<&&str>| -> Vec<String> {
        s.map_or_else(
            || vec!["*".to_owned()],
            |a| {
                a.split(',')
                    .map(|x| x.trim().to_ascii_lowercase())
                    .collect()
            },
        )
    };
    match parts.as_slice() {
        ["*"] | ["nexus", "*"] | ["nexus", "*", "*"] => Some(vec!["nx-all".into()]),
        [
            "nexus",
            kind @ ("repository-view" | "repository-admin"),
            rest @ ..,
        ] if rest.len() <= 3 => {
            let format = rest.first().copied().unwrap_or("*");
            let repo = rest.get(1).copied().unwrap_or("*");
            Some(
                actions(rest.get(2))
                    .into_iter()
                    .map(|a| format!("nx-{kind}-{format}-{repo}-{a}"))
                    .collect(),
            )
        }
        ["nexus", domain, rest @ ..] if *domain != "*" && rest.len() <= 1 && !domain.is_empty() => {
            Some(
                actions(rest.first())
                    .into_iter()
                    .map(|a| {
                        let a = if a == "*" { "all".to_owned() } else { a };
                        format!("nx-{domain}-{a}")
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// What a stored privilege grants: name patterns, and a selector grant for content selectors.
/// `selector` resolves a content selector's name to its parsed expression.
pub fn expand(
    row: &PrivilegeRow,
    selector: impl Fn(&str) -> Option<Arc<Selector>>,
) -> (Vec<String>, Option<SelectorGrant>) {
    let Ok(p) = serde_json::from_str::<Properties>(&row.properties) else {
        return (vec![], None);
    };
    let actions = p.actions.clone().unwrap_or_default();
    let star = |s: &Option<String>| s.clone().unwrap_or_else(|| "*".into());
    match row.kind.as_str() {
        "application" => {
            let domain = star(&p.domain);
            let pats = lower_actions(&actions, "all")
                .into_iter()
                .map(|a| {
                    if domain == "*" {
                        "nx-all".to_owned()
                    } else {
                        format!("nx-{domain}-{a}")
                    }
                })
                .collect();
            (pats, None)
        }
        kind @ ("repository-view" | "repository-admin") => {
            let (f, r) = (star(&p.format), star(&p.repository));
            let pats = lower_actions(&actions, "*")
                .into_iter()
                .map(|a| format!("nx-{kind}-{f}-{r}-{a}"))
                .collect();
            (pats, None)
        }
        "repository-content-selector" => {
            let grant = p
                .content_selector
                .as_deref()
                .and_then(&selector)
                .map(|sel| SelectorGrant {
                    selector: sel,
                    format: star(&p.format),
                    repo: star(&p.repository),
                    actions: lower_actions(&actions, "*"),
                });
            (vec![], grant)
        }
        "wildcard" => (
            p.pattern
                .as_deref()
                .and_then(wildcard_patterns)
                .unwrap_or_default(),
            None,
        ),
        _ => (vec![], None),
    }
}

/// Nexus's built-in privileges for the application domains Arca checks, plus the repository
/// privileges for all formats and for each `(format, repository)` given. Read-only.
pub fn builtin(
    repos: &[(String, String)],
    formats: &[&str],
) -> Vec<(String, &'static str, String, Properties)> {
    let mut out = vec![(
        "nx-all".to_owned(),
        "wildcard",
        "All permissions".to_owned(),
        Properties {
            pattern: Some("nexus:*".into()),
            ..Default::default()
        },
    )];
    const DOMAINS: &[(&str, &[&str])] = &[
        ("blobstores", &["all", "create", "read", "update", "delete"]),
        ("settings", &["all", "read", "update"]),
        ("healthcheck", &["read"]),
        ("metrics", &["all", "read"]),
        (
            "tasks",
            &["all", "create", "read", "update", "delete", "start", "stop"],
        ),
        ("users", &["all", "create", "read", "update", "delete"]),
        ("roles", &["all", "create", "read", "update", "delete"]),
        ("privileges", &["all", "create", "read", "update", "delete"]),
        ("selectors", &["all", "create", "read", "update", "delete"]),
        ("audit", &["all", "read"]),
        ("search", &["read"]),
        ("component", &["create"]),
        ("apikey", &["all"]),
        ("userschangepw", &["create", "read"]),
    ];
    for (domain, actions) in DOMAINS {
        for a in *actions {
            out.push((
                format!("nx-{domain}-{a}"),
                "application",
                format!("{} permission for {domain}", capital(a)),
                Properties {
                    domain: Some((*domain).into()),
                    actions: Some(vec![a.to_ascii_uppercase()]),
                    ..Default::default()
                },
            ));
        }
    }
    let mut targets: Vec<(String, String)> = vec![("*".into(), "*".into())];
    targets.extend(formats.iter().map(|f| ((*f).to_owned(), "*".to_owned())));
    targets.extend(repos.iter().cloned());
    for kind in ["repository-view", "repository-admin"] {
        for (f, r) in &targets {
            for a in ["*", "browse", "read", "edit", "add", "delete"] {
                let action = if a == "*" {
                    "ALL".to_owned()
                } else {
                    a.to_ascii_uppercase()
                };
                out.push((
                    format!("nx-{kind}-{f}-{r}-{a}"),
                    if kind == "repository-view" {
                        "repository-view"
                    } else {
                        "repository-admin"
                    },
                    format!(
                        "{} permission for {f} {r} ({kind})",
                        capital(&action.to_ascii_lowercase())
                    ),
                    Properties {
                        format: Some(f.clone()),
                        repository: Some(r.clone()),
                        actions: Some(vec![action]),
                        ..Default::default()
                    },
                ));
            }
        }
    }
    out
}

fn capital(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert_eq!(wildcard_patterns("nexus:*"), Some(vec!["nx-all".into()]));
        assert_eq!(
            wildcard_patterns("nexus:repository-view:maven2:*:read,browse"),
            Some(vec![
                "nx-repository-view-maven2-*-read".into(),
                "nx-repository-view-maven2-*-browse".into()
            ])
        );
        assert_eq!(
            wildcard_patterns("nexus:blobstores:*"),
            Some(vec!["nx-blobstores-all".into()])
        );
        assert_eq!(wildcard_patterns("foo:bar"), None);
        assert_eq!(wildcard_patterns("nexus:*:read"), None);
    }

    #[test]
    fn expands_typed_rows() {
        let row = |kind: &str, props: serde_json::Value| PrivilegeRow {
            name: "p".into(),
            kind: kind.into(),
            description: String::new(),
            properties: props.to_string(),
        };
        let (p, _) = expand(
            &row(
                "repository-view",
                serde_json::json!({"format":"pypi","repository":"py","actions":["READ","ALL"]}),
            ),
            |_| None,
        );
        assert_eq!(
            p,
            vec![
                "nx-repository-view-pypi-py-read",
                "nx-repository-view-pypi-py-*"
            ]
        );
        let (p, _) = expand(
            &row(
                "application",
                serde_json::json!({"domain":"tasks","actions":["START"]}),
            ),
            |_| None,
        );
        assert_eq!(p, vec!["nx-tasks-start"]);
        let sel = Arc::new(Selector::parse(r#"path =^ "/org/""#).unwrap());
        let (p, g) = expand(
            &row(
                "repository-content-selector",
                serde_json::json!({"format":"maven2","repository":"*","contentSelector":"s","actions":["READ"]}),
            ),
            |n| (n == "s").then(|| sel.clone()),
        );
        assert!(p.is_empty());
        let g = g.unwrap();
        assert!(g.allows("maven2", "m", Action::Read, "org/a.jar"));
        assert!(!g.allows("maven2", "m", Action::Add, "org/a.jar"));
        assert!(!g.allows("maven2", "m", Action::Read, "com/a.jar"));
        assert!(!g.allows("pypi", "m", Action::Read, "org/a.jar"));
    }
}
