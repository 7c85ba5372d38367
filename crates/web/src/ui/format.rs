//! How to use an asset with its format's own clients: the snippets on the asset page, from the
//! format (core adds a plain download).

use arca_core::{
    Arca,
    model::{Asset, Component, Repository},
};

use super::browse::Snippet;

pub(crate) fn snippets(
    arca: &Arca,
    base: &str,
    repo: &Repository,
    a: &Asset,
    c: Option<&Component>,
) -> Vec<Snippet> {
    let mut out: Vec<Snippet> = arca
        .formats
        .get(&repo.format)
        .map(|f| f.usage(base, repo, a, c))
        .unwrap_or_default()
        .into_iter()
        .map(|u| Snippet {
            label: u.label,
            text: u.text,
        })
        .collect();
    out.push(Snippet {
        label: "curl".into(),
        text: format!("curl -fLO {base}/repository/{}/{}", repo.name, a.path),
    });
    out
}
