//! Upload through the browser: the form of each format's component upload (its
//! `upload-specs`), sent by the page's script to `POST /service/rest/v1/components`, the same
//! endpoint and code path as any REST client, with progress for large files.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{
    Arca,
    model::RepoKind,
    security::{Action, Permission},
};
use askama::Template;

use super::{Chrome, Page, UiError, render};

pub(crate) struct Target {
    pub name: String,
    pub format: String,
}

#[derive(Template)]
#[template(path = "upload_choose.html")]
struct Choose {
    chrome: Chrome,
    targets: Vec<Target>,
}

async fn targets(arca: &Arca, page: &Page) -> Result<Vec<Target>, UiError> {
    Ok(arca
        .db
        .list_repositories()
        .await?
        .into_iter()
        .filter(|r| {
            r.kind == RepoKind::Hosted
                && arca
                    .formats
                    .get(&r.format)
                    .is_some_and(|f| f.upload_spec().is_some())
                && page.subject.can(&Permission::RepoView {
                    format: &r.format,
                    repo: r.name.as_str(),
                    action: Action::Add,
                })
        })
        .map(|r| Target {
            name: r.name.to_string(),
            format: r.format.clone(),
        })
        .collect())
}

pub(crate) async fn choose(
    req: HttpRequest,
    arca: web::Data<Arca>,
) -> Result<HttpResponse, UiError> {
    let page = Page::of(&arca, &req, "upload").await?;
    if page.subject.anonymous {
        return Err(UiError::SignIn("/ui/upload".into()));
    }
    let targets = targets(&arca, &page).await?;
    Ok(render(&Choose {
        chrome: page.chrome,
        targets,
    }))
}

pub(crate) struct Field {
    /// The multipart field name (`maven2.groupId`, `maven2.asset1.classifier`).
    pub name: String,
    pub label: String,
    pub description: String,
    pub optional: bool,
    pub boolean: bool,
}

#[derive(Template)]
#[template(path = "upload.html")]
struct Form {
    chrome: Chrome,
    repo: String,
    format: String,
    multiple: bool,
    /// `maven2.asset` or `raw.asset`: numbered (`…1`, `…2`) when several files may go.
    asset_base: String,
    component_fields: Vec<Field>,
    asset_fields: Vec<Field>,
}

fn fields(spec: &serde_json::Value, key: &str, prefix: &str) -> Vec<Field> {
    spec[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| {
                    let name = f["name"].as_str()?;
                    Some(Field {
                        name: format!("{prefix}.{name}"),
                        label: name.to_owned(),
                        description: f["description"].as_str().unwrap_or_default().to_owned(),
                        optional: f["optional"].as_bool().unwrap_or(true),
                        boolean: f["type"] == "BOOLEAN",
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) async fn form(
    req: HttpRequest,
    arca: web::Data<Arca>,
    repo: web::Path<String>,
) -> Result<HttpResponse, UiError> {
    let page = Page::of(&arca, &req, "upload").await?;
    if page.subject.anonymous {
        return Err(UiError::SignIn(format!("/ui/upload/{repo}")));
    }
    let targets = targets(&arca, &page).await?;
    let Some(t) = targets.iter().find(|t| t.name == *repo) else {
        return Err(UiError::NotFound(format!(
            "{repo} is not a hosted repository you may upload to"
        )));
    };
    let spec = arca
        .formats
        .get(&t.format)
        .and_then(|f| f.upload_spec())
        .unwrap_or_default();
    let multiple = spec["multipleUpload"].as_bool().unwrap_or(false);
    let asset_base = format!("{}.asset", t.format);
    Ok(render(&Form {
        chrome: page.chrome,
        repo: t.name.clone(),
        format: t.format.clone(),
        multiple,
        component_fields: fields(&spec, "componentFields", &t.format),
        // Per-file fields; the script renames them for each added file.
        asset_fields: fields(&spec, "assetFields", "ASSET"),
        asset_base,
    }))
}
