//! `tasks`: Nexus's list, get and run for the built-in tasks.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{Arca, auth::Guard, meta::TaskRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{TasksRead, TasksStart, audit, paging::page};
use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/tasks", web::get().to(list))
        .route("/tasks/{id}", web::get().to(get))
        .route("/tasks/{id}/run", web::post().to(run))
        .route("/tasks/{id}/stop", web::post().to(stop));
}

fn iso(ms: Option<i64>) -> Option<String> {
    ms.map(|ms| {
        let (y, m, d, hh, mm, ss) = arca_core::model::utc_parts(ms);
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.000+00:00")
    })
}

/// A task's state: Arca's tasks are short and run under a lease, so the API sees them waiting.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum TaskState {
    Waiting,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum TaskResult {
    Ok,
    Failed,
}

/// Nexus's `TaskXO`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskXO {
    id: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
    /// The last run's result message.
    message: Option<String>,
    current_state: TaskState,
    last_run_result: Option<TaskResult>,
    #[schema(format = DateTime)]
    next_run: Option<String>,
    #[schema(format = DateTime)]
    last_run: Option<String>,
    enabled: bool,
    schedule: String,
}

page!(
    /// Every task, on one page.
    PageTaskXO,
    TaskXO
);

fn task_xo(t: &TaskRow) -> TaskXO {
    TaskXO {
        id: t.id.clone(),
        name: t.name.clone(),
        kind: t.type_id.clone(),
        message: t.last_result.clone(),
        current_state: TaskState::Waiting,
        last_run_result: t.last_result.as_deref().map(|r| {
            if r.starts_with("FAILED") {
                TaskResult::Failed
            } else {
                TaskResult::Ok
            }
        }),
        next_run: iso(t.next_run_ms),
        last_run: iso(t.last_run_ms),
        enabled: t.enabled,
        schedule: t.schedule.clone(),
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only tasks of this type.
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// List tasks.
#[utoipa::path(
    get,
    operation_id = "list_tasks",
    path = "/service/rest/v1/tasks",
    tag = "Tasks",
    params(ListQuery),
    responses(
        (status = 200, description = "The tasks", body = PageTaskXO),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn list(
    arca: web::Data<Arca>,
    _g: Guard<TasksRead>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let items: Vec<TaskXO> = arca
        .db
        .list_tasks()
        .await?
        .iter()
        .filter(|t| q.kind.as_deref().is_none_or(|k| k == t.type_id))
        .map(task_xo)
        .collect();
    Ok(HttpResponse::Ok().json(PageTaskXO {
        items,
        continuation_token: None,
    }))
}

async fn find(arca: &Arca, id: &str) -> Result<TaskRow, ApiError> {
    arca.db
        .list_tasks()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("Task {id} not found")))
}

/// Get a task.
#[utoipa::path(
    get,
    operation_id = "get_task",
    path = "/service/rest/v1/tasks/{id}",
    tag = "Tasks",
    params(("id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The task", body = TaskXO),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Task not found"),
    ),
)]
pub(crate) async fn get(
    arca: web::Data<Arca>,
    _g: Guard<TasksRead>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(task_xo(&find(&arca, &id).await?)))
}

/// Run a task now.
#[utoipa::path(
    post,
    operation_id = "run_task",
    path = "/service/rest/v1/tasks/{id}/run",
    tag = "Tasks",
    params(("id" = String, Path, description = "The task's id")),
    responses(
        (status = 204, description = "Task was run"),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Task not found"),
        (status = 405, description = "Task is disabled", body = String, content_type = "text/plain"),
        (status = 409, description = "Task is running on another node", body = Vec<crate::error::ValidationErrorXO>),
    ),
)]
pub(crate) async fn run(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<TasksStart>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let asked = arca_core::model::now_ms();
    let task = find(&arca, &id).await?;
    if !task.enabled {
        return Ok(HttpResponse::MethodNotAllowed().body(format!("Task {id} is disabled")));
    }
    let owner = format!("api-{}", arca_core::security::random_secret(8));
    // A run that ends after this request came (scheduled, or asked for on another node)
    // answers it too, so a task asked for on two nodes at the same moment runs once; while
    // another run holds the lease, wait for it rather than refuse at once.
    let (mut outcome, mut joined) = (None, false);
    for _ in 0..30 {
        let t = find(&arca, &id).await?;
        if t.last_run_ms.is_some_and(|at| at > asked) {
            joined = true;
            outcome = Some(format!(
                "joined the run that ended at {}: {}",
                t.last_run_ms.unwrap_or_default(),
                t.last_result.unwrap_or_default()
            ));
            break;
        }
        outcome = arca_core::tasks::run(&arca, &id, &owner).await?;
        if outcome.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    match outcome {
        Some(result) => {
            audit(
                &arca,
                &req,
                &g.subject,
                "tasks",
                if joined { "run-joined" } else { "run" },
                &id,
                json!({ "result": result }),
            )
            .await;
            Ok(HttpResponse::NoContent().finish())
        }
        None => Err(ApiError::Conflict(format!(
            "Task {id} is running on another node"
        ))),
    }
}

/// Stop a task.
///
/// Arca's tasks are short and not interruptible, so this is always 409 (as Nexus answers for a
/// task that is not running), or 404 for an unknown id.
#[utoipa::path(
    post,
    operation_id = "stop_task",
    path = "/service/rest/v1/tasks/{id}/stop",
    tag = "Tasks",
    params(("id" = String, Path, description = "The task's id")),
    responses(
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Task not found"),
        (status = 409, description = "Task is not running or cannot be stopped", body = Vec<crate::error::ValidationErrorXO>),
    ),
)]
pub(crate) async fn stop(
    arca: web::Data<Arca>,
    _g: Guard<TasksStart>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    find(&arca, &id).await?;
    Err(ApiError::Conflict(format!(
        "Task {id} is not running or cannot be stopped"
    )))
}
