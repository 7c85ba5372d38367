//! Where docker content lives among a repository's assets (Nexus's own layout).

use arca_core::meta::NewComponent;

/// Blobs are shared by every image of a repository: `v2/-/blobs/sha256:<hex>` (or
/// `sha512:<hex>` for content a client named by its SHA-512).
pub fn blob(digest: &impl std::fmt::Display) -> String {
    format!("v2/-/blobs/{digest}")
}

/// `v2/<image>/manifests/<tag or digest>`: one asset per tag and one per digest.
pub fn manifest(image: &str, reference: &str) -> String {
    format!("v2/{image}/manifests/{reference}")
}

pub fn manifests_prefix(image: &str) -> String {
    format!("v2/{image}/manifests/")
}

/// Components are (image, tag) and (image, digest).
pub fn component(image: &str, reference: &str) -> NewComponent {
    NewComponent {
        namespace: String::new(),
        name: image.to_owned(),
        version: reference.to_owned(),
        attrs: serde_json::json!({}),
    }
}
