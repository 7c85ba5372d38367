//! `maven-metadata.xml`: parsed from remotes and clients, generated for hosted repositories,
//! merged for groups.

use std::cmp::Ordering;

use quick_xml::{Reader, escape::escape, events::Event};

use crate::version::{compare, is_snapshot};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotVersion {
    pub classifier: Option<String>,
    pub extension: String,
    pub value: String,
    pub updated: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metadata {
    pub group_id: String,
    pub artifact_id: String,
    /// Set in version-level (SNAPSHOT) metadata.
    pub version: Option<String>,
    pub latest: Option<String>,
    pub release: Option<String>,
    pub versions: Vec<String>,
    pub last_updated: Option<String>,
    /// `(timestamp, buildNumber)` of the newest SNAPSHOT build.
    pub snapshot: Option<(String, u32)>,
    pub snapshot_versions: Vec<SnapshotVersion>,
    /// Group-level plugin metadata is passed through as-is.
    pub plugins: bool,
}

#[derive(Debug)]
pub struct BadMetadata(pub String);

fn resolve_ref(r: &str) -> String {
    match r {
        "amp" => "&".into(),
        "lt" => "<".into(),
        "gt" => ">".into(),
        "quot" => "\"".into(),
        "apos" => "'".into(),
        _ => String::new(),
    }
}

/// Deepest element nesting accepted (real metadata is 5 deep). Each end tag joins the open
/// elements' names, so unbounded nesting cost time quadratic in the document's size.
pub const MAX_DEPTH: usize = 32;

/// Parses metadata; malformed XML or a missing `<metadata>` root is an error.
pub fn parse(xml: &[u8]) -> Result<Metadata, BadMetadata> {
    let text = std::str::from_utf8(xml).map_err(|_| BadMetadata("not UTF-8".into()))?;
    let mut r = Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    let mut buf = String::new();
    let mut m = Metadata::default();
    let mut sv = SnapshotVersion::default();
    let mut saw_root = false;
    loop {
        match r.read_event() {
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if stack.is_empty() {
                    if name != "metadata" {
                        return Err(BadMetadata(format!(
                            "root element is <{name}>, not <metadata>"
                        )));
                    }
                    saw_root = true;
                }
                if name == "snapshotVersion" {
                    sv = SnapshotVersion::default();
                }
                if name == "plugins" {
                    m.plugins = true;
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(BadMetadata(format!(
                        "elements nested more than {MAX_DEPTH} deep"
                    )));
                }
                stack.push(name);
                buf.clear();
            }
            Ok(Event::Empty(_)) => {}
            Ok(Event::Text(t)) => {
                buf.push_str(&t.decode().map_err(|e| BadMetadata(e.to_string()))?)
            }
            Ok(Event::GeneralRef(g)) => {
                buf.push_str(&resolve_ref(&String::from_utf8_lossy(g.as_ref())))
            }
            Ok(Event::CData(c)) => {
                buf.push_str(&c.decode().map_err(|e| BadMetadata(e.to_string()))?)
            }
            Ok(Event::End(_)) => {
                let path = stack.join("/");
                let v = buf.trim().to_owned();
                match path.as_str() {
                    "metadata/groupId" => m.group_id = v,
                    "metadata/artifactId" => m.artifact_id = v,
                    "metadata/version" => m.version = Some(v),
                    "metadata/versioning/latest" => m.latest = Some(v),
                    "metadata/versioning/release" => m.release = Some(v),
                    "metadata/versioning/versions/version" => m.versions.push(v),
                    "metadata/versioning/lastUpdated" => m.last_updated = Some(v),
                    "metadata/versioning/snapshot/timestamp" => {
                        m.snapshot.get_or_insert_with(Default::default).0 = v;
                    }
                    "metadata/versioning/snapshot/buildNumber" => {
                        m.snapshot.get_or_insert_with(Default::default).1 = v.parse().unwrap_or(0);
                    }
                    "metadata/versioning/snapshotVersions/snapshotVersion/classifier" => {
                        sv.classifier = Some(v)
                    }
                    "metadata/versioning/snapshotVersions/snapshotVersion/extension" => {
                        sv.extension = v
                    }
                    "metadata/versioning/snapshotVersions/snapshotVersion/value" => sv.value = v,
                    "metadata/versioning/snapshotVersions/snapshotVersion/updated" => {
                        sv.updated = v
                    }
                    "metadata/versioning/snapshotVersions/snapshotVersion" => {
                        m.snapshot_versions.push(std::mem::take(&mut sv));
                    }
                    _ => {}
                }
                stack.pop();
                buf.clear();
            }
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                return Err(BadMetadata(format!(
                    "malformed XML at byte {}: {e}",
                    r.buffer_position()
                )));
            }
        }
    }
    if !saw_root || !stack.is_empty() {
        return Err(BadMetadata("no complete <metadata> element".into()));
    }
    Ok(m)
}

fn newest<'a>(vs: impl Iterator<Item = &'a String>) -> Option<String> {
    vs.max_by(|a, b| compare(a, b)).cloned()
}

impl Metadata {
    /// Artifact-level metadata for a set of versions.
    pub fn for_versions(
        group_id: &str,
        artifact_id: &str,
        mut versions: Vec<String>,
        last_updated: String,
    ) -> Self {
        versions.sort_by(|a, b| compare(a, b));
        versions.dedup();
        Self {
            group_id: group_id.into(),
            artifact_id: artifact_id.into(),
            latest: versions.last().cloned(),
            release: newest(versions.iter().filter(|v| !is_snapshot(v))),
            versions,
            last_updated: Some(last_updated),
            ..Default::default()
        }
    }

    /// The union of several repositories' artifact-level metadata, as a group serves it.
    pub fn merge(all: &[Metadata]) -> Option<Self> {
        let first = all.first()?;
        let versions: Vec<String> = all
            .iter()
            .flat_map(|m| m.versions.iter().cloned())
            .collect();
        let mut m = Self::for_versions(
            &first.group_id,
            &first.artifact_id,
            versions,
            all.iter()
                .filter_map(|m| m.last_updated.clone())
                .max()
                .unwrap_or_default(),
        );
        // Members may name a latest/release that they do not list.
        let better = |a: Option<String>, b: Option<&String>| match (a, b) {
            (Some(a), Some(b)) if compare(b, &a) == Ordering::Greater => Some(b.clone()),
            (None, Some(b)) => Some(b.clone()),
            (a, _) => a,
        };
        for x in all {
            m.latest = better(m.latest, x.latest.as_ref());
            m.release = better(m.release, x.release.as_ref());
        }
        Some(m)
    }

    pub fn to_xml(&self) -> String {
        let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        s.push_str(if self.version.is_some() {
            "<metadata modelVersion=\"1.1.0\">\n"
        } else {
            "<metadata>\n"
        });
        let el = |s: &mut String, indent: usize, name: &str, v: &str| {
            s.push_str(&format!(
                "{}<{name}>{}</{name}>\n",
                "  ".repeat(indent),
                escape(v)
            ));
        };
        el(&mut s, 1, "groupId", &self.group_id);
        el(&mut s, 1, "artifactId", &self.artifact_id);
        if let Some(v) = &self.version {
            el(&mut s, 1, "version", v);
        }
        s.push_str("  <versioning>\n");
        if let Some(l) = &self.latest {
            el(&mut s, 2, "latest", l);
        }
        if let Some(r) = &self.release {
            el(&mut s, 2, "release", r);
        }
        if let Some((ts, n)) = &self.snapshot {
            s.push_str("    <snapshot>\n");
            el(&mut s, 3, "timestamp", ts);
            el(&mut s, 3, "buildNumber", &n.to_string());
            s.push_str("    </snapshot>\n");
        }
        if !self.versions.is_empty() {
            s.push_str("    <versions>\n");
            for v in &self.versions {
                el(&mut s, 3, "version", v);
            }
            s.push_str("    </versions>\n");
        }
        if let Some(l) = &self.last_updated {
            el(&mut s, 2, "lastUpdated", l);
        }
        if !self.snapshot_versions.is_empty() {
            s.push_str("    <snapshotVersions>\n");
            for sv in &self.snapshot_versions {
                s.push_str("      <snapshotVersion>\n");
                if let Some(c) = &sv.classifier {
                    el(&mut s, 4, "classifier", c);
                }
                el(&mut s, 4, "extension", &sv.extension);
                el(&mut s, 4, "value", &sv.value);
                el(&mut s, 4, "updated", &sv.updated);
                s.push_str("      </snapshotVersion>\n");
            }
            s.push_str("    </snapshotVersions>\n");
        }
        s.push_str("  </versioning>\n</metadata>\n");
        s
    }
}

/// `yyyyMMddHHmmss` in UTC, as `lastUpdated` wants it.
pub fn timestamp(ms: i64) -> String {
    let (y, m, d, hh, mm, ss) = arca_core::model::utc_parts(ms);
    format!("{y:04}{m:02}{d:02}{hh:02}{mm:02}{ss:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_merge() {
        let a = Metadata::for_versions(
            "g",
            "a",
            vec!["1.0".into(), "1.1-SNAPSHOT".into(), "0.9".into()],
            "20260101000000".into(),
        );
        assert_eq!(a.latest.as_deref(), Some("1.1-SNAPSHOT"));
        assert_eq!(a.release.as_deref(), Some("1.0"));
        assert_eq!(a.versions, ["0.9", "1.0", "1.1-SNAPSHOT"]);
        let parsed = parse(a.to_xml().as_bytes()).unwrap();
        assert_eq!(parsed, a);
        let b = Metadata::for_versions(
            "g",
            "a",
            vec!["1.0".into(), "2.0".into()],
            "20260202000000".into(),
        );
        let m = Metadata::merge(&[a, b]).unwrap();
        assert_eq!(m.versions, ["0.9", "1.0", "1.1-SNAPSHOT", "2.0"]);
        assert_eq!(m.latest.as_deref(), Some("2.0"));
        assert_eq!(m.release.as_deref(), Some("2.0"));
        assert_eq!(m.last_updated.as_deref(), Some("20260202000000"));
    }

    #[test]
    fn snapshot_metadata() {
        let m = Metadata {
            group_id: "g".into(),
            artifact_id: "a".into(),
            version: Some("1.0-SNAPSHOT".into()),
            snapshot: Some(("20260101.120000".into(), 3)),
            last_updated: Some("20260101120000".into()),
            snapshot_versions: vec![SnapshotVersion {
                classifier: Some("sources".into()),
                extension: "jar".into(),
                value: "1.0-20260101.120000-3".into(),
                updated: "20260101120000".into(),
            }],
            ..Default::default()
        };
        assert_eq!(parse(m.to_xml().as_bytes()).unwrap(), m);
    }

    #[test]
    fn malformed_is_refused() {
        for bad in [
            "",
            "<metadata>",
            "<project/>",
            "<metadata><groupId>x</metadata>",
            "not xml",
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("<metadata>{}", "<a>".repeat(200_000));
        let e = parse(deep.as_bytes()).unwrap_err();
        assert!(e.0.contains("nested"), "{}", e.0);
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "19700101000000");
        assert_eq!(timestamp(1_798_761_600_000), "20270101000000");
        assert_eq!(timestamp(1_709_210_096_000), "20240229123456");
    }
}
