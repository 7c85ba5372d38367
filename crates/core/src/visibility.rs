//! Which repositories, and which paths in them, a caller may see: the one rule behind every
//! listing (REST repositories, components, search, browse, the UI, docker's catalog).
//!
//! A repository is seen whole with `browse` or `read` on it (any privilege granting either);
//! partly through a content selector granting `browse` or `read` on it, and then only the
//! paths the selector's expression selects; otherwise not at all.

use crate::{
    model::Repository,
    security::{Action, Permission, Subject},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sight {
    /// Not listed; asked for by name, it is "not found".
    Nothing,
    /// Listed, with only the paths [`sees`] allows.
    Selected,
    /// Listed with everything in it.
    Whole,
}

fn view<'a>(repo: &'a Repository, action: Action) -> Permission<'a> {
    Permission::RepoView {
        format: &repo.format,
        repo: repo.name.as_str(),
        action,
    }
}

/// How much of `repo` the subject sees.
pub fn sight(subject: &Subject, repo: &Repository) -> Sight {
    if [Action::Browse, Action::Read]
        .into_iter()
        .any(|a| subject.can(&view(repo, a)))
    {
        Sight::Whole
    } else if subject.sees_some_of(&repo.format, repo.name.as_str()) {
        Sight::Selected
    } else {
        Sight::Nothing
    }
}

/// Whether the subject sees the asset at `path` of `repo`.
pub fn sees(subject: &Subject, repo: &Repository, path: &str) -> bool {
    [Action::Browse, Action::Read]
        .into_iter()
        .any(|a| subject.can_at(&view(repo, a), path))
}
