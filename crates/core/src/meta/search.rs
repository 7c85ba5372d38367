//! Component search over the metadata store, for the REST search API and the UI.

use super::{Db, Result, on_db, parse_json};
use crate::model::Component;

/// What to look for; every given field must match. Text fields take `*` as a wildcard and
/// compare without regard to case.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    /// Repositories the caller may see (the search never looks elsewhere).
    pub repo_ids: Vec<i64>,
    pub group: Option<String>,
    pub name: Option<String>,
    pub version: Option<String>,
    /// A keyword found in group, name or version.
    pub keyword: Option<String>,
    /// An asset of the component has this checksum (`sha1`, `sha256`, `md5`, `sha512`).
    pub checksum: Option<(&'static str, String)>,
}

/// `*` → `%`, with LIKE's own wildcards escaped.
fn like(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.to_lowercase().chars() {
        match c {
            '%' | '_' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '*' => out.push('%'),
            c => out.push(c),
        }
    }
    out
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    repository: String,
    namespace: String,
    name: String,
    version: String,
    attributes: String,
    created_ms: i64,
}

impl Db {
    /// Matching components after id `after`, by id (keyset pagination).
    pub async fn search_components(
        &self,
        q: &SearchQuery,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Component>> {
        if q.repo_ids.is_empty() {
            return Ok(vec![]);
        }
        let ids: Vec<String> = q.repo_ids.iter().map(i64::to_string).collect();
        // SQLite: `+` keeps the repository filter off the index, so the plan walks components
        // in id order (the order of the page) unless an exact name or a checksum narrows it
        // first, instead of sorting every component of the repositories for each page.
        let repo_col = match self {
            Db::Sqlite(_) => "+c.repository_id",
            Db::Pg(_) => "c.repository_id",
        };
        let mut sql = format!(
            "SELECT c.id, r.name AS repository, c.namespace, c.name, c.version, c.attributes, c.created_ms \
             FROM components c JOIN repositories r ON r.id = c.repository_id \
             WHERE {repo_col} IN ({}) AND c.id > $1",
            ids.join(",")
        );
        let mut binds: Vec<String> = Vec::new();
        let mut push = |sql: &mut String, clause: &str, value: String| {
            binds.push(value);
            // $1 is `after`; text binds follow.
            *sql += &clause.replace("$?", &format!("${}", binds.len() + 1));
        };
        for (col, v) in [
            ("c.namespace", &q.group),
            ("c.name", &q.name),
            ("c.version", &q.version),
        ] {
            match v {
                // Without wildcards an equality, which the index on LOWER(name) serves.
                Some(v) if !v.contains('*') => push(
                    &mut sql,
                    &format!(" AND LOWER({col}) = $?"),
                    v.to_lowercase(),
                ),
                Some(v) => push(
                    &mut sql,
                    &format!(" AND LOWER({col}) LIKE $? ESCAPE '\\'"),
                    like(v),
                ),
                None => {}
            }
        }
        if let Some(k) = &q.keyword {
            // Every `$?` of a clause is the same parameter.
            push(
                &mut sql,
                " AND (LOWER(c.name) LIKE $? ESCAPE '\\' OR LOWER(c.namespace) LIKE $? ESCAPE '\\' \
                 OR LOWER(c.version) LIKE $? ESCAPE '\\')",
                format!("%{}%", like(k)),
            );
        }
        if let Some((algo, value)) = &q.checksum {
            // The column name comes from a fixed list, never from the request.
            push(
                &mut sql,
                // IN, not a correlated EXISTS: the checksum's index finds the few assets first.
                &format!(" AND c.id IN (SELECT a.component_id FROM assets a WHERE a.{algo} = $?)"),
                value.to_lowercase(),
            );
        }
        sql += &format!(" ORDER BY c.id LIMIT {}", limit.clamp(1, 1000));
        let rows: Vec<Row> = on_db!(self, |p| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(after);
            for b in &binds {
                query = query.bind(b.clone());
            }
            query.fetch_all(p).await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(Component {
                    id: r.id,
                    repository: r.repository,
                    namespace: r.namespace,
                    name: r.name,
                    version: r.version,
                    attrs: parse_json(&r.attributes)?,
                    created_ms: r.created_ms,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns() {
        assert_eq!(super::like("Org.Ex*"), "org.ex%");
        assert_eq!(super::like("a_b%c\\"), "a\\_b\\%c\\\\");
    }
}
