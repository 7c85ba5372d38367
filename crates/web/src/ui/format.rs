//! How to use an asset with its format's own client: the snippets on the asset page.

use arca_core::model::{Asset, Component, Repository};

use super::browse::Snippet;

fn snippet(label: &str, text: String) -> Snippet {
    Snippet {
        label: label.to_owned(),
        text,
    }
}

/// `host:port` of the base URL, as image names carry it.
fn host(base: &str) -> &str {
    base.split_once("://")
        .map_or(base, |(_, h)| h)
        .trim_end_matches('/')
}

pub(crate) fn snippets(
    base: &str,
    repo: &Repository,
    a: &Asset,
    c: Option<&Component>,
) -> Vec<Snippet> {
    let url = format!("{base}/repository/{}/{}", repo.name, a.path);
    let repo_url = format!("{base}/repository/{}/", repo.name);
    let mut out = Vec::new();
    match (repo.format.as_str(), c) {
        ("maven2", Some(c)) => {
            let ext = a.path.rsplit_once('.').map_or("jar", |(_, e)| e);
            let kind = if ext == "jar" || ext == "pom" || ext == "sha1" || ext == "md5" {
                String::new()
            } else {
                format!("\n  <type>{ext}</type>")
            };
            out.push(snippet(
                "Maven dependency",
                format!(
                    "<dependency>\n  <groupId>{}</groupId>\n  <artifactId>{}</artifactId>\n  <version>{}</version>{kind}\n</dependency>",
                    c.namespace, c.name, c.version
                ),
            ));
            out.push(snippet(
                "Gradle",
                format!(
                    "implementation(\"{}:{}:{}\")",
                    c.namespace, c.name, c.version
                ),
            ));
            out.push(snippet(
                "Repository (pom.xml)",
                format!(
                    "<repository>\n  <id>{0}</id>\n  <url>{repo_url}</url>\n</repository>",
                    repo.name
                ),
            ));
        }
        ("pypi", Some(c)) => {
            out.push(snippet(
                "pip",
                format!(
                    "pip install --index-url {repo_url}simple/ {}=={}",
                    c.name, c.version
                ),
            ));
            out.push(snippet(
                "uv",
                format!(
                    "uv pip install --index-url {repo_url}simple/ {}=={}",
                    c.name, c.version
                ),
            ));
        }
        ("docker", Some(c)) => {
            let reference = if c.version.is_empty() {
                String::new()
            } else {
                format!(":{}", c.version)
            };
            out.push(snippet(
                "docker",
                format!(
                    "docker pull {}/{}/{}{reference}",
                    host(base),
                    repo.name,
                    c.name
                ),
            ));
            out.push(snippet(
                "podman",
                format!(
                    "podman pull {}/{}/{}{reference}",
                    host(base),
                    repo.name,
                    c.name
                ),
            ));
        }
        ("yum", c) => {
            out.push(snippet(
                "/etc/yum.repos.d/ file",
                format!(
                    "[{0}]\nname={0}\nbaseurl={repo_url}\nenabled=1\ngpgcheck=0",
                    repo.name
                ),
            ));
            if let Some(c) = c {
                out.push(snippet("dnf", format!("dnf install {}", c.name)));
            }
        }
        _ => {}
    }
    out.push(snippet("curl", format!("curl -fLO {url}")));
    out
}
