//! How to use a yum repository: its `.repo` file, and `dnf install` of a package.

use arca_core::{
    format::{Usage, repository_url},
    model::{Asset, Component, Repository},
};

pub fn usage(base: &str, repo: &Repository, _a: &Asset, c: Option<&Component>) -> Vec<Usage> {
    let mut out = vec![Usage::new(
        "/etc/yum.repos.d/ file",
        format!(
            "[{0}]\nname={0}\nbaseurl={1}\nenabled=1\ngpgcheck=0",
            repo.name,
            repository_url(base, repo)
        ),
    )];
    if let Some(c) = c {
        out.push(Usage::new("dnf", format!("dnf install {}", c.name)));
    }
    out
}
