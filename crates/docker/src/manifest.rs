//! Manifests and indexes: media types, parsing, and what they reference.

use serde::Deserialize;
use serde_json::{Map, Value};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Every manifest type Arca stores, for `Accept` towards upstreams.
pub const ACCEPT_ALL: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";
/// Manifests larger than this are refused (the spec suggests at least 4 MiB be accepted).
pub const MAX_MANIFEST: usize = 4 * 1024 * 1024;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: i64,
    #[serde(default)]
    pub urls: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    schema_version: Option<u32>,
    media_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    artifact_type: Option<String>,
    annotations: Option<Map<String, Value>>,
}

/// A parsed manifest.
#[derive(Debug)]
pub struct Manifest {
    pub media_type: String,
    pub is_index: bool,
    /// Blobs an image manifest needs in the repository (config and layers; foreign layers with
    /// `urls` are not stored and not required).
    pub blobs: Vec<String>,
    /// Manifests an index needs in the repository.
    pub children: Vec<String>,
    pub subject: Option<String>,
    /// `artifactType`, else the config's media type (what the referrers API reports).
    pub artifact_type: Option<String>,
    pub annotations: Option<Map<String, Value>>,
}

/// Deepest JSON nesting accepted. Real manifests are 4 deep; annotations are kept in the
/// asset's attributes inside other JSON, so this leaves room under serde_json's 128.
pub const MAX_DEPTH: usize = 64;

/// Whether `body` nests arrays and objects at most `max` deep (strings skipped), checked
/// without recursion before any parser sees it.
pub fn nesting_within(body: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// Parses and checks a manifest; `content_type` is the request's `Content-Type`.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest, String> {
    if !nesting_within(body, MAX_DEPTH) {
        return Err(format!(
            "manifest JSON nested deeper than {MAX_DEPTH} levels"
        ));
    }
    let raw: Raw =
        serde_json::from_slice(body).map_err(|e| format!("not a valid manifest: {e}"))?;
    if raw.schema_version != Some(2) {
        return Err("schemaVersion must be 2 (schema 1 manifests are not supported)".into());
    }
    let ct = content_type
        .map(|c| c.split(';').next().unwrap_or(c).trim())
        .filter(|c| !c.is_empty() && *c != "application/json" && *c != "application/octet-stream");
    let media_type = match (&raw.media_type, ct) {
        (Some(m), Some(c)) if m != c => {
            return Err(format!("mediaType {m} does not match the Content-Type {c}"));
        }
        (Some(m), _) => m.clone(),
        (None, Some(c)) => c.to_owned(),
        (None, None) if raw.manifests.is_some() => OCI_INDEX.to_owned(),
        (None, None) => OCI_MANIFEST.to_owned(),
    };
    let check = |d: &Descriptor| -> Result<(), String> {
        crate::names::parse_oci_digest(&d.digest).map(|_| ())?;
        if d.size < 0 {
            return Err(format!("descriptor {} has a negative size", d.digest));
        }
        Ok(())
    };
    let subject = match &raw.subject {
        Some(s) => {
            check(s)?;
            Some(s.digest.clone())
        }
        None => None,
    };
    match media_type.as_str() {
        DOCKER_MANIFEST | OCI_MANIFEST => {
            let config = raw.config.ok_or("an image manifest needs a config")?;
            check(&config)?;
            let layers = raw.layers.unwrap_or_default();
            let mut blobs = vec![config.digest.clone()];
            for l in &layers {
                check(l)?;
                if l.urls.is_empty() {
                    blobs.push(l.digest.clone());
                }
            }
            Ok(Manifest {
                is_index: false,
                artifact_type: raw.artifact_type.or(Some(config.media_type.clone())),
                media_type,
                blobs,
                children: vec![],
                subject,
                annotations: raw.annotations,
            })
        }
        DOCKER_LIST | OCI_INDEX => {
            let manifests = raw.manifests.ok_or("an index needs a manifests list")?;
            for m in &manifests {
                check(m)?;
            }
            Ok(Manifest {
                is_index: true,
                media_type,
                blobs: vec![],
                children: manifests.into_iter().map(|m| m.digest).collect(),
                subject,
                artifact_type: raw.artifact_type,
                annotations: raw.annotations,
            })
        }
        other => Err(format!("unsupported manifest media type {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn image_manifest_and_index() {
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/x.cfg","digest":"{D}","size":2}},"layers":[{{"mediaType":"l","digest":"{D}","size":1}},{{"mediaType":"l","digest":"{D}","size":1,"urls":["http://x"]}}],"subject":{{"mediaType":"{OCI_MANIFEST}","digest":"{D}","size":3}}}}"#
        );
        let p = parse(m.as_bytes(), Some(OCI_MANIFEST)).expect("parse");
        assert_eq!(p.blobs.len(), 2);
        assert_eq!(p.artifact_type.as_deref(), Some("application/x.cfg"));
        assert_eq!(p.subject.as_deref(), Some(D));
        assert!(parse(m.as_bytes(), Some(DOCKER_MANIFEST)).is_err());
        let i = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{D}","size":3}}]}}"#
        );
        let p = parse(i.as_bytes(), Some(OCI_INDEX)).expect("index");
        assert!(p.is_index && p.children == vec![D.to_string()]);
    }

    #[test]
    fn refusals() {
        assert!(parse(b"{", None).is_err());
        assert!(parse(br#"{"schemaVersion":1}"#, None).is_err());
        assert!(
            parse(
                format!(r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}"}}"#).as_bytes(),
                None
            )
            .is_err()
        );
        let bad_digest = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"c","digest":"sha256:xyz","size":1}},"layers":[]}}"#
        );
        assert!(parse(bad_digest.as_bytes(), None).is_err());
    }

    #[test]
    fn deep_nesting_is_refused() {
        for (open, close) in [("[", "]"), ("{\"a\":", "}")] {
            let deep = format!(
                r#"{{"schemaVersion":2,"annotations":{{"x":{}1{}}}}}"#,
                open.repeat(100_000),
                close.repeat(100_000)
            );
            let e = parse(deep.as_bytes(), None).unwrap_err();
            assert!(e.contains("nested deeper"), "{e}");
        }
        // Brackets inside strings do not count.
        assert!(nesting_within(br#"{"a":"[[[[\"[[[["}"#, 1));
        assert!(!nesting_within(b"[[[]]]", 2));
        assert!(nesting_within(b"[[[]]]", 3));
    }
}
