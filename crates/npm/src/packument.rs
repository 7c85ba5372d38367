//! Packuments: what one repository knows of a package (versions, dist-tags, times), merged
//! across a group's members and rendered full (`application/json`) or abbreviated
//! (`application/vnd.npm.install-v1+json`), with tarball URLs pointing back through Arca.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::names::{PkgName, compare_versions, is_prerelease};

pub const ABBREVIATED: &str = "application/vnd.npm.install-v1+json";

/// One repository's view of a package.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    /// Version → manifest. `dist.tarball` holds the tarball's file name (`{bare}-{v}.tgz`);
    /// the URL is made when rendering.
    pub versions: BTreeMap<String, Value>,
    pub dist_tags: BTreeMap<String, String>,
    /// `created`, `modified` and one entry per version, ISO 8601.
    pub time: BTreeMap<String, String>,
    /// Package-level fields a remote sent (readme, description, maintainers, …).
    pub extra: Map<String, Value>,
    /// Changes whenever the package changes: the `_rev` npm sends back on writes.
    pub rev: String,
}

pub fn iso8601(ms: i64) -> String {
    let (y, m, d, hh, mm, ss) = arca_core::model::utc_parts(ms);
    format!(
        "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{:03}Z",
        ms.rem_euclid(1000)
    )
}

/// The last path segment of a tarball URL: its file name.
pub fn file_of(url: &str) -> &str {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    url.rsplit('/').next().unwrap_or(url)
}

/// Fields of a version that the abbreviated form keeps (npm's registry list).
const ABBREVIATED_FIELDS: &[&str] = &[
    "name",
    "version",
    "deprecated",
    "dependencies",
    "optionalDependencies",
    "devDependencies",
    "bundleDependencies",
    "bundledDependencies",
    "peerDependencies",
    "peerDependenciesMeta",
    "acceptDependencies",
    "bin",
    "directories",
    "dist",
    "engines",
    "cpu",
    "os",
    "libc",
    "funding",
    "license",
    "_hasShrinkwrap",
    "hasInstallScript",
];

fn has_install_script(m: &Value) -> bool {
    let s = m.get("scripts");
    ["install", "preinstall", "postinstall"]
        .iter()
        .any(|k| s.and_then(|s| s.get(*k)).is_some())
}

impl Doc {
    /// The highest release version (a prerelease only when there is nothing else).
    pub fn highest(&self) -> Option<String> {
        let pick = |pre: bool| {
            self.versions
                .keys()
                .filter(|v| pre || !is_prerelease(v))
                .max_by(|a, b| compare_versions(a, b))
                .cloned()
        };
        pick(false).or_else(|| pick(true))
    }

    /// Drops tags naming versions this package no longer has; `latest` falls back to the
    /// highest version, as npm expects one.
    pub fn settle_tags(&mut self) {
        let versions = &self.versions;
        self.dist_tags.retain(|_, v| versions.contains_key(v));
        if !self.dist_tags.contains_key("latest")
            && let Some(h) = self.highest()
        {
            self.dist_tags.insert("latest".into(), h);
        }
    }

    /// A group's view: versions from every member (the first holding a version wins),
    /// dist-tags and package fields from the first member holding the package.
    pub fn merge(docs: Vec<Doc>) -> Option<Doc> {
        let mut it = docs.into_iter();
        let mut out = it.next()?;
        let mut revs = vec![std::mem::take(&mut out.rev)];
        for d in it {
            for (v, m) in d.versions {
                out.versions.entry(v).or_insert(m);
            }
            for (k, t) in d.time {
                match k.as_str() {
                    "created" => {
                        let e = out.time.entry(k).or_insert_with(|| t.clone());
                        if t < *e {
                            *e = t;
                        }
                    }
                    "modified" => {
                        let e = out.time.entry(k).or_insert_with(|| t.clone());
                        if t > *e {
                            *e = t;
                        }
                    }
                    _ => {
                        out.time.entry(k).or_insert(t);
                    }
                }
            }
            for (k, v) in d.extra {
                out.extra.entry(k).or_insert(v);
            }
            revs.push(d.rev);
        }
        out.rev = merged_rev(revs.iter().map(String::as_str));
        out.settle_tags();
        Some(out)
    }

    fn manifest(&self, name: &PkgName, m: &Value, prefix: &str) -> Value {
        let mut m = m.clone();
        if let Some(dist) = m.get_mut("dist").and_then(Value::as_object_mut) {
            let file = dist
                .get("tarball")
                .and_then(Value::as_str)
                .map(file_of)
                .unwrap_or_default()
                .to_owned();
            dist.insert(
                "tarball".into(),
                json!(format!("{prefix}{}{file}", name.dir())),
            );
        }
        m
    }

    /// The full packument; tarballs under `prefix` (`{base}/repository/{repo}/`).
    pub fn render_full(&self, name: &PkgName, prefix: &str) -> Value {
        let mut o = Map::new();
        for (k, v) in &self.extra {
            o.insert(k.clone(), v.clone());
        }
        let versions: Map<String, Value> = self
            .versions
            .iter()
            .map(|(v, m)| (v.clone(), self.manifest(name, m, prefix)))
            .collect();
        // Package-level fields npm shows come from the latest version when no remote gave them.
        if let Some(latest) = self
            .dist_tags
            .get("latest")
            .and_then(|v| self.versions.get(v))
        {
            for k in [
                "description",
                "readme",
                "keywords",
                "license",
                "homepage",
                "repository",
                "bugs",
                "author",
                "maintainers",
            ] {
                if !o.contains_key(k)
                    && let Some(v) = latest.get(k)
                {
                    o.insert(k.into(), v.clone());
                }
            }
        }
        o.insert("_id".into(), json!(name.full));
        o.insert("_rev".into(), json!(self.rev));
        o.insert("name".into(), json!(name.full));
        o.insert("dist-tags".into(), json!(self.dist_tags));
        o.insert("versions".into(), Value::Object(versions));
        o.insert("time".into(), json!(self.time));
        Value::Object(o)
    }

    /// The abbreviated ("corgi") packument npm, pnpm and yarn install from.
    pub fn render_abbreviated(&self, name: &PkgName, prefix: &str) -> Value {
        let versions: Map<String, Value> = self
            .versions
            .iter()
            .map(|(v, m)| {
                let full = self.manifest(name, m, prefix);
                let mut a = Map::new();
                for k in ABBREVIATED_FIELDS {
                    if let Some(x) = full.get(*k) {
                        a.insert((*k).into(), x.clone());
                    }
                }
                if has_install_script(&full) {
                    a.insert("hasInstallScript".into(), json!(true));
                }
                (v.clone(), Value::Object(a))
            })
            .collect();
        json!({
            "name": name.full,
            "modified": self.time.get("modified").cloned().unwrap_or_default(),
            "dist-tags": self.dist_tags,
            "versions": versions,
        })
    }

    /// Parses a remote's packument; tarball URLs stay as the remote wrote them.
    pub fn from_remote(v: Value, rev: String) -> Option<Doc> {
        let Value::Object(mut o) = v else {
            return None;
        };
        let versions = match o.remove("versions") {
            Some(Value::Object(m)) => m.into_iter().collect(),
            _ => BTreeMap::new(),
        };
        let dist_tags = match o.remove("dist-tags") {
            Some(Value::Object(m)) => m
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
                .collect(),
            _ => BTreeMap::new(),
        };
        let time = match o.remove("time") {
            Some(Value::Object(m)) => m
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
                .collect(),
            _ => BTreeMap::new(),
        };
        // What Arca writes itself, or what belongs to the remote's database.
        for k in [
            "_id",
            "_rev",
            "name",
            "_attachments",
            "modified",
            "_revisions",
        ] {
            o.remove(k);
        }
        let mut d = Doc {
            versions,
            dist_tags,
            time,
            extra: o,
            rev,
        };
        d.settle_tags();
        Some(d)
    }
}

/// The revision of a merge of documents with revisions `revs`, in order.
pub fn merged_rev<'a>(revs: impl IntoIterator<Item = &'a str>) -> String {
    rev_of(&revs.into_iter().collect::<Vec<_>>().join("\n"))
}

/// A short, stable revision string for `seed`.
pub fn rev_of(seed: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    format!("1-{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(versions: &[&str], latest: Option<&str>) -> Doc {
        let mut d = Doc::default();
        for v in versions {
            d.versions.insert(
                (*v).into(),
                json!({"name": "p", "version": v, "dist": {"tarball": format!("https://r.example/p/-/p-{v}.tgz"), "shasum": "x"}, "scripts": {"postinstall": "x"}, "readme": "big"}),
            );
        }
        if let Some(l) = latest {
            d.dist_tags.insert("latest".into(), l.into());
        }
        d
    }

    #[test]
    fn merge_and_render() {
        let name = PkgName::parse("p").unwrap();
        let a = doc(&["1.0.0"], Some("1.0.0"));
        let b = doc(&["1.0.0", "2.0.0", "3.0.0-rc.1"], Some("2.0.0"));
        let m = Doc::merge(vec![a, b]).unwrap();
        assert_eq!(m.versions.len(), 3);
        assert_eq!(m.dist_tags["latest"], "1.0.0", "the first member's tags");
        let full = m.render_full(&name, "http://h/repository/g/");
        assert_eq!(
            full["versions"]["2.0.0"]["dist"]["tarball"],
            "http://h/repository/g/p/-/p-2.0.0.tgz"
        );
        let ab = m.render_abbreviated(&name, "http://h/repository/g/");
        assert_eq!(ab["versions"]["2.0.0"]["hasInstallScript"], true);
        assert!(ab["versions"]["2.0.0"].get("readme").is_none());
        let mut lone = doc(&["1.0.0", "1.1.0", "2.0.0-beta"], None);
        lone.settle_tags();
        assert_eq!(lone.dist_tags["latest"], "1.1.0");
    }
}
