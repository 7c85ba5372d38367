//! The kinds of task Arca runs (Nexus's task types, under Nexus's type ids), the properties
//! each takes, and the task of each kind Arca creates by itself.

use std::collections::BTreeMap;

use crate::{schedule::Frequency, state::Arca};

/// Frees blobs no asset names any more, expires abandoned uploads, sweeps for orphans.
pub const COMPACT: &str = "blobstore.compact";
/// Applies every repository's cleanup policies.
pub const CLEANUP: &str = "repository.cleanup";
/// Checks that every recorded blob is in its store with the content its digest names.
pub const INTEGRITY: &str = "blobstore.integrity";

/// What a property holds, for validation and for forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FieldKind {
    /// A whole number, 0 or more.
    Number,
    /// `true` or `false` (any case, as Nexus reads them).
    Boolean,
    /// A repository of the format named (every format when empty), or `*` for all of them.
    Repository(&'static str),
    /// A blob store, or `*` for all.
    BlobStore,
}

/// A property of a task type (Nexus's form field).
#[derive(Clone, Copy, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskField {
    pub id: &'static str,
    pub label: &'static str,
    pub help: &'static str,
    #[serde(rename = "type")]
    pub kind: FieldKind,
    /// Taken when a task is created without it.
    pub default: &'static str,
}

/// The task of a type that Arca creates at start (and keeps: it can be disabled or
/// rescheduled, not deleted).
#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    pub id: &'static str,
    pub name: &'static str,
    /// Its schedule until someone changes it (Quartz cron, UTC).
    pub cron: &'static str,
}

/// A kind of task.
#[derive(Clone, Copy, Debug)]
pub struct TaskType {
    /// Nexus's type id.
    pub type_id: &'static str,
    /// Nexus's name of the type.
    pub name: &'static str,
    pub fields: &'static [TaskField],
    pub builtin: Option<Builtin>,
}

/// The core's task types; formats add theirs ([`crate::Format::task_types`]).
pub const CORE: &[TaskType] = &[
    TaskType {
        type_id: COMPACT,
        name: "Admin - Compact blob store",
        fields: &[TaskField {
            id: "blobstoreName",
            label: "Blob store",
            help: "The blob store whose unreferenced blobs are freed (* for all)",
            kind: FieldKind::BlobStore,
            default: "*",
        }],
        builtin: Some(Builtin {
            id: "blob-gc",
            name: "Free unreferenced blobs",
            cron: "0 * * * * ?",
        }),
    },
    TaskType {
        type_id: CLEANUP,
        name: "Admin - Cleanup repositories using their associated policies",
        fields: &[],
        builtin: Some(Builtin {
            id: "repository-cleanup",
            name: "Apply cleanup policies",
            cron: "0 0 1 * * ?",
        }),
    },
    TaskType {
        type_id: INTEGRITY,
        name: "Admin - Check blob store integrity",
        fields: &[],
        builtin: Some(Builtin {
            id: "blob-integrity",
            name: "Check blob integrity",
            cron: "0 30 2 * * ?",
        }),
    },
];

/// Every task type: the core's, then each format's.
pub fn all(arca: &Arca) -> Vec<TaskType> {
    let mut out = CORE.to_vec();
    for f in arca.formats.all() {
        out.extend(f.task_types());
    }
    out
}

/// A type by its id.
pub fn find(arca: &Arca, type_id: &str) -> Option<TaskType> {
    all(arca).into_iter().find(|t| t.type_id == type_id)
}

/// A task's settings, as stored in its `attributes`.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct TaskSettings {
    #[serde(default)]
    pub frequency: Frequency,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl TaskSettings {
    pub fn parse(attributes: &str) -> Self {
        serde_json::from_str(attributes).unwrap_or_default()
    }
}

/// A task's properties, checked against its type.
#[derive(Clone, Debug, Default)]
pub struct Properties(pub BTreeMap<String, String>);

impl Properties {
    pub fn get(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }
    /// A number property (validated at creation); `None` when absent.
    pub fn number(&self, id: &str) -> Option<i64> {
        self.get(id).and_then(|v| v.trim().parse().ok())
    }
    pub fn flag(&self, id: &str) -> bool {
        self.get(id)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }
    /// Whether a repository or store property (`*` = all) takes `name`.
    pub fn takes(&self, id: &str, name: &str) -> bool {
        self.get(id).is_none_or(|v| v == "*" || v == name)
    }
}

/// A property that cannot work; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct InvalidProperty {
    pub field: String,
    pub message: String,
}

/// The properties a task of `t` gets from `given`: defaults filled in, each checked (unknown
/// ones refused, repositories and stores looked up).
pub async fn check_properties(
    arca: &Arca,
    t: &TaskType,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, InvalidProperty> {
    let bad = |field: &str, message: String| InvalidProperty {
        field: field.to_owned(),
        message,
    };
    if let Some(k) = given.keys().find(|k| !t.fields.iter().any(|f| f.id == *k)) {
        let known: Vec<&str> = t.fields.iter().map(|f| f.id).collect();
        return Err(bad(
            k,
            format!(
                "{} takes no property {k:?} (it takes: {})",
                t.type_id,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
        ));
    }
    let mut out = BTreeMap::new();
    for f in t.fields {
        let v = given
            .get(f.id)
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| f.default.to_owned());
        match f.kind {
            FieldKind::Number if v.parse::<u32>().is_err() => {
                return Err(bad(
                    f.id,
                    format!("{} must be a whole number, 0 or more, not {v:?}", f.id),
                ));
            }
            FieldKind::Boolean
                if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") =>
            {
                return Err(bad(
                    f.id,
                    format!("{} must be true or false, not {v:?}", f.id),
                ));
            }
            FieldKind::Repository(format) if v != "*" => {
                let repo = arca
                    .db
                    .get_repository(&v)
                    .await
                    .map_err(|_| bad(f.id, format!("{}: repository {v:?} not found", f.id)))?;
                if !format.is_empty() && repo.format != format {
                    return Err(bad(
                        f.id,
                        format!("{}: repository {v:?} is not a {format} repository", f.id),
                    ));
                }
            }
            FieldKind::BlobStore if v != "*" => {
                let known = arca
                    .db
                    .list_blob_stores()
                    .await
                    .map_err(|e| bad(f.id, e.to_string()))?;
                if !known.iter().any(|s| s.name == v) {
                    return Err(bad(f.id, format!("{}: blob store {v:?} not found", f.id)));
                }
            }
            _ => {}
        }
        out.insert(f.id.to_owned(), v);
    }
    Ok(out)
}
