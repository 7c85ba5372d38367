//! Component search over the metadata store, for the REST search API and the UI.
//!
//! A keyword (`q=`) is a substring of group, name or version, any case. A term with a piece of
//! three characters or more between its `*`s is looked up in a trigram index (migration 0007):
//! on SQLite the FTS5 table `components_fts`, walked in id order; on PostgreSQL the pg_trgm
//! GIN indexes on `LOWER(namespace|name|version)`, when the extension could be installed
//! (otherwise the same query scans, as before). `LOWER(col) LIKE` still decides every row, so
//! the index changes what is read, never what is found; shorter terms scan.

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

/// The pieces of a keyword between its `*` wildcards, lowered, that a trigram index can look
/// up: those of three characters or more (trigrams cannot find a shorter one). Empty when none
/// qualifies, and the search then tests every component, as for a short term.
fn trigram_pieces(keyword: &str) -> Vec<String> {
    keyword
        .to_lowercase()
        .split('*')
        // A NUL would end the FTS5 query text early; such a term just scans.
        .filter(|p| p.chars().count() >= 3 && !p.contains('\0'))
        .map(str::to_owned)
        .collect()
}

/// An FTS5 query for rows holding every piece literally: each piece one phrase in double quotes
/// (a quote inside doubled), so nothing in a term (`OR`, `NEAR(`, `*`, `-`, `^`, `:`, `"`) is
/// ever read as query syntax. The trigram tokenizer matches a phrase as a substring.
fn fts5_query(pieces: &[String]) -> String {
    pieces
        .iter()
        .map(|p| format!("\"{}\"", p.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The SQL text of a search and its text binds (`$1` is the id to page after).
fn search_sql(q: &SearchQuery, pg: bool, limit: i64, use_index: bool) -> (String, Vec<String>) {
    let ids: Vec<String> = q.repo_ids.iter().map(i64::to_string).collect();
    let exact_name = q.name.as_deref().is_some_and(|n| !n.contains('*'));
    let pieces = q.keyword.as_deref().map(trigram_pieces).unwrap_or_default();
    // The trigram index finds a keyword's candidates, unless an exact name or a checksum
    // (both indexed, and narrower) already does; the LIKE test below still decides, so the
    // results are those of a scan, the index only skips what cannot match.
    let indexed = use_index && !pieces.is_empty() && !exact_name && q.checksum.is_none();
    // SQLite: `+` keeps the repository filter off the index, so the plan walks components
    // in id order (the order of the page) unless an exact name or a checksum narrows it
    // first, instead of sorting every component of the repositories for each page.
    let repo_col = if pg {
        "c.repository_id"
    } else {
        "+c.repository_id"
    };
    let mut binds: Vec<String> = Vec::new();
    let mut sql = if indexed && !pg {
        // SQLite: the FTS5 table drives, walked in rowid (= component id) order from the
        // page's start, so a page stops after its last match instead of collecting them all;
        // CROSS JOIN fixes that order of the loops.
        binds.push(fts5_query(&pieces));
        format!(
            "SELECT c.id, r.name AS repository, c.namespace, c.name, c.version, c.attributes, c.created_ms \
             FROM components_fts f CROSS JOIN components c CROSS JOIN repositories r \
             WHERE f.components_fts MATCH $2 AND f.rowid > $1 AND c.id = f.rowid AND r.id = c.repository_id \
             AND {repo_col} IN ({})",
            ids.join(",")
        )
    } else {
        format!(
            "SELECT c.id, r.name AS repository, c.namespace, c.name, c.version, c.attributes, c.created_ms \
             FROM components c JOIN repositories r ON r.id = c.repository_id \
             WHERE {repo_col} IN ({}) AND c.id > $1",
            ids.join(",")
        )
    };
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
        // PostgreSQL: `LOWER(col)` is what the pg_trgm indexes (migration 0007) hold, so the
        // planner may use them for a term they can serve; a shorter one tests `LOWER(col) || ''`,
        // which no index holds, so it is never a scan of a whole trigram index.
        let lower = |col: &str| {
            if pg && (pieces.is_empty() || !use_index) {
                format!("(LOWER({col}) || '')")
            } else {
                format!("LOWER({col})")
            }
        };
        // Every `$?` of a clause is the same parameter.
        push(
            &mut sql,
            &format!(
                " AND ({} LIKE $? ESCAPE '\\' OR {} LIKE $? ESCAPE '\\' OR {} LIKE $? ESCAPE '\\')",
                lower("c.name"),
                lower("c.namespace"),
                lower("c.version")
            ),
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
    let order = if indexed && !pg { "f.rowid" } else { "c.id" };
    sql += &format!(" ORDER BY {order} LIMIT {}", limit.clamp(1, 1000));
    (sql, binds)
}

impl Db {
    /// Matching components after id `after`, by id (keyset pagination).
    pub async fn search_components(
        &self,
        q: &SearchQuery,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Component>> {
        self.search_with(q, after, limit, true).await
    }

    /// As [`Db::search_components`]; `use_index: false` scans as before migration 0007 (the
    /// reference the tests hold the index to).
    async fn search_with(
        &self,
        q: &SearchQuery,
        after: i64,
        limit: i64,
        use_index: bool,
    ) -> Result<Vec<Component>> {
        if q.repo_ids.is_empty() {
            return Ok(vec![]);
        }
        let (sql, binds) = search_sql(q, matches!(self, Db::Pg(_)), limit, use_index);
        // PostgreSQL: a keyword is planned for its value each time (an unnamed statement, never
        // a generic plan): only then does the planner know that a rare term is best found through
        // the trigram indexes and a common one by walking ids until the page is full. A generic
        // plan, which PostgreSQL may settle on after five runs, walks ids whatever the term:
        // seconds on a million components for a term that is nowhere.
        let persistent = q.keyword.is_none();
        let rows: Vec<Row> = on_db!(self, |p| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .persistent(persistent)
                .bind(after);
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
    use super::*;

    #[test]
    fn like_patterns() {
        assert_eq!(super::like("Org.Ex*"), "org.ex%");
        assert_eq!(super::like("a_b%c\\"), "a\\_b\\%c\\\\");
    }

    #[test]
    fn fts5_queries_are_phrases() {
        let q = |k: &str| fts5_query(&trigram_pieces(k));
        assert_eq!(q("Lib"), r#""lib""#);
        assert_eq!(q(r#"say "hi""#), r#""say ""hi""""#);
        assert_eq!(q("core*NEAR(x"), r#""core" AND "near(x""#);
        assert_eq!(q("ab*cd"), "", "no piece of three characters");
        assert!(
            trigram_pieces("äö").is_empty(),
            "two characters, four bytes"
        );
        assert!(trigram_pieces("a\0bc").is_empty());
    }

    const NAMES: [(&str, &str, &str); 16] = [
        ("org.example", "lib-core", "1.0.0"),
        ("org.example", "lib-util", "1.0.1"),
        ("com.acme", "Widget", "2.0"),
        ("", "zebracorn", "0.1"),
        ("", r#"say "hi" now"#, "1"),
        ("", "left OR right", "1"),
        ("", "NEAR(a b)", "1"),
        ("", "minus-sign-x", "1"),
        ("", "caret^col:on*star", "1"),
        ("", "percent%under_score", "1"),
        ("", "back\\slash", "1"),
        ("", "Ünïcödé-ÄBC", "1"),
        ("io.lib", "other", "3.0-LIB"),
        ("", "aaaaaa", "1"),
        ("x", "y", "z"),
        ("org.example", "lib-core", "1.1.0"),
    ];

    /// A migrated database with the components above spread over two repositories.
    async fn db(dir: &tempfile::TempDir) -> (Db, Vec<i64>) {
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        db.migrate().await.unwrap();
        let Db::Sqlite(p) = &db else { unreachable!() };
        sqlx::query("INSERT INTO blob_stores (name, type, path, created_ms) VALUES ('default', 'File', 'x', 0)")
            .execute(p)
            .await
            .unwrap();
        let mut repos = vec![];
        for name in ["one", "two"] {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO repositories (name, format, kind, online, blob_store, \
                 strict_content_type_validation, created_ms, updated_ms) \
                 VALUES ($1, 'raw', 'hosted', TRUE, 'default', TRUE, 0, 0) RETURNING id",
            )
            .bind(name)
            .fetch_one(p)
            .await
            .unwrap();
            repos.push(id);
        }
        for (i, (ns, name, version)) in NAMES.iter().enumerate() {
            sqlx::query(
                "INSERT INTO components (repository_id, namespace, name, version, created_ms) \
                 VALUES ($1, $2, $3, $4, 0)",
            )
            .bind(repos[i % 2])
            .bind(ns)
            .bind(name)
            .bind(version)
            .execute(p)
            .await
            .unwrap();
        }
        (db, repos)
    }

    /// Every page of a search, with and without the index.
    async fn pages(db: &Db, q: &SearchQuery, limit: i64, use_index: bool) -> Vec<Vec<String>> {
        let mut out = vec![];
        let mut after = 0;
        loop {
            let page = db.search_with(q, after, limit, use_index).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.id;
            out.push(
                page.iter()
                    .map(|c| format!("{}:{}", c.id, c.name))
                    .collect(),
            );
        }
        out
    }

    fn keyword(repos: &[i64], k: &str) -> SearchQuery {
        SearchQuery {
            repo_ids: repos.to_vec(),
            keyword: Some(k.into()),
            ..Default::default()
        }
    }

    const TERMS: [&str; 30] = [
        "lib",
        "LIB",
        "lib-",
        "ib-co",
        "example",
        "1.0",
        "zebracorn",
        "ebrac",
        "nothing",
        r#"""#,
        r#""hi""#,
        r#"say "hi"#,
        "OR",
        "left OR",
        " OR ",
        "NEAR(",
        "NEAR(a",
        "-sign",
        "minus-",
        "^col:",
        "on*star",
        "*",
        "lib*core",
        "org*1.1",
        "%under_",
        "back\\s",
        "ÄBC",
        "äbc",
        "aaaa",
        "AAA",
    ];

    /// The index changes no result, no order and no page: every term, literal FTS5 syntax
    /// included, gives what the scan gives.
    #[tokio::test]
    async fn indexed_search_matches_the_scan() {
        let dir = tempfile::tempdir().unwrap();
        let (db, repos) = db(&dir).await;
        for term in TERMS {
            for r in [&repos[..], &repos[..1]] {
                let q = keyword(r, term);
                for limit in [1, 2, 50] {
                    assert_eq!(
                        pages(&db, &q, limit, true).await,
                        pages(&db, &q, limit, false).await,
                        "{term:?} in {r:?}, {limit} a page"
                    );
                }
            }
        }
        // Together with the other criteria.
        let mut q = keyword(&repos, "lib");
        q.group = Some("org.*".into());
        assert_eq!(
            pages(&db, &q, 2, true).await,
            pages(&db, &q, 2, false).await
        );
        q.name = Some("LIB-CORE".into());
        assert_eq!(pages(&db, &q, 2, true).await.concat().len(), 2);
    }

    /// FTS5 operators in a term are searched for as text.
    #[tokio::test]
    async fn query_syntax_is_literal() {
        let dir = tempfile::tempdir().unwrap();
        let (db, repos) = db(&dir).await;
        let names = |term: &'static str| {
            let db = db.clone();
            let q = keyword(&repos, term);
            async move {
                let v: Vec<String> = db
                    .search_components(&q, 0, 50)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|c| c.name)
                    .collect();
                v
            }
        };
        assert_eq!(names(r#""hi""#).await, [r#"say "hi" now"#]);
        assert_eq!(names(r#"y "h"#).await, [r#"say "hi" now"#]);
        assert_eq!(names("t OR r").await, ["left OR right"]);
        assert_eq!(names("NEAR(a").await, ["NEAR(a b)"]);
        assert_eq!(names("-sign-").await, ["minus-sign-x"]);
        assert_eq!(names("^col:").await, ["caret^col:on*star"]);
        // `*` stays the wildcard it is in every search field.
        assert_eq!(names("caret*star").await, ["caret^col:on*star"]);
        assert_eq!(names("%under_").await, ["percent%under_score"]);
        assert_eq!(names("ZEBRA").await, ["zebracorn"]);
        assert_eq!(names("or right").await, ["left OR right"]);
        assert!(names("nothing").await.is_empty());
    }

    /// The triggers keep the index with the components: added, renamed, deleted, and deleted
    /// with their repository.
    #[tokio::test]
    async fn index_follows_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (db, repos) = db(&dir).await;
        let Db::Sqlite(p) = &db else { unreachable!() };
        let found = |term: &'static str| {
            let db = db.clone();
            let q = keyword(&repos, term);
            async move {
                let a = pages(&db, &q, 50, true).await.concat();
                assert_eq!(a, pages(&db, &q, 50, false).await.concat(), "{term}");
                a.len()
            }
        };
        assert_eq!(found("zebracorn").await, 1);
        sqlx::query("UPDATE components SET name = 'quagga' WHERE name = 'zebracorn'")
            .execute(p)
            .await
            .unwrap();
        assert_eq!(found("zebracorn").await, 0);
        assert_eq!(found("quagga").await, 1);
        // Attributes only: the index is not touched, and stays right.
        sqlx::query("UPDATE components SET attributes = '{\"a\":1}'")
            .execute(p)
            .await
            .unwrap();
        assert_eq!(found("quagga").await, 1);
        sqlx::query("DELETE FROM components WHERE name = 'quagga'")
            .execute(p)
            .await
            .unwrap();
        assert_eq!(found("quagga").await, 0);
        assert_eq!(found("lib-").await, 3);
        sqlx::query("DELETE FROM repositories WHERE id = $1")
            .bind(repos[0])
            .execute(p)
            .await
            .unwrap();
        assert_eq!(found("lib-").await, 2);
        // The cascade fired the trigger: the index itself holds no more than the components.
        let indexed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM components_fts WHERE components_fts MATCH '\"lib-\"'",
        )
        .fetch_one(p)
        .await
        .unwrap();
        assert_eq!(indexed, 2);
        // FTS5's own check, against the components (rank 1) as well.
        sqlx::query(
            "INSERT INTO components_fts (components_fts, rank) VALUES ('integrity-check', 1)",
        )
        .execute(p)
        .await
        .unwrap();
    }

    /// SQLite answers a keyword of three characters or more from the FTS5 table, walked in id
    /// order (no sort of all matches); a shorter one scans the components.
    #[tokio::test]
    async fn plan_uses_the_trigram_index() {
        let dir = tempfile::tempdir().unwrap();
        let (db, repos) = db(&dir).await;
        let Db::Sqlite(p) = &db else { unreachable!() };
        let plan = |term: &str| {
            let (sql, binds) = search_sql(&keyword(&repos, term), false, 50, true);
            async move {
                let mut query = sqlx::query_as::<_, (i64, i64, i64, String)>(sqlx::AssertSqlSafe(
                    format!("EXPLAIN QUERY PLAN {sql}"),
                ))
                .bind(0_i64);
                for b in binds {
                    query = query.bind(b);
                }
                let rows = query.fetch_all(p).await.unwrap();
                rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n")
            }
        };
        let long = plan("zebra").await;
        assert!(long.contains("SCAN f VIRTUAL TABLE"), "{long}");
        assert!(
            long.contains("SEARCH c USING INTEGER PRIMARY KEY"),
            "{long}"
        );
        assert!(!long.contains("TEMP B-TREE"), "{long}");
        let short = plan("ze").await;
        assert!(!short.contains("VIRTUAL TABLE"), "{short}");
    }
}
