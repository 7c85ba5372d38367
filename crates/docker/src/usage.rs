//! How to use an image: `docker pull` and `podman pull` by the repository's path.

use arca_core::{
    format::Usage,
    model::{Asset, Component, Repository},
};

pub fn usage(base: &str, repo: &Repository, _a: &Asset, c: Option<&Component>) -> Vec<Usage> {
    let Some(c) = c else {
        return Vec::new();
    };
    // Image names carry `host:port`, not the URL.
    let host = base
        .split_once("://")
        .map_or(base, |(_, h)| h)
        .trim_end_matches('/');
    let reference = if c.version.is_empty() {
        String::new()
    } else {
        format!(":{}", c.version)
    };
    ["docker", "podman"]
        .into_iter()
        .map(|tool| {
            Usage::new(
                tool,
                format!("{tool} pull {host}/{}/{}{reference}", repo.name, c.name),
            )
        })
        .collect()
}
