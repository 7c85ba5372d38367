//! `tasks`: Nexus's list, get and run for the built-in tasks.

use actix_web::{HttpRequest, HttpResponse, web};
use arca_core::{Arca, auth::Guard, meta::TaskRow};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{TasksRead, TasksStart, audit};
use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/tasks", web::get().to(list))
        .route("/tasks/{id}", web::get().to(get))
        .route("/tasks/{id}/run", web::post().to(run))
        .route("/tasks/{id}/stop", web::post().to(stop));
}

fn iso(ms: Option<i64>) -> Value {
    match ms {
        Some(ms) => {
            let (y, m, d, hh, mm, ss) = arca_core::model::utc_parts(ms);
            json!(format!(
                "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.000+00:00"
            ))
        }
        None => Value::Null,
    }
}

/// Nexus's `TaskXO`.
fn task_xo(t: &TaskRow) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "type": t.type_id,
        "message": t.last_result,
        "currentState": "WAITING",
        "lastRunResult": t.last_result.as_deref().map(|r| if r.starts_with("FAILED") { "FAILED" } else { "OK" }),
        "nextRun": iso(t.next_run_ms),
        "lastRun": iso(t.last_run_ms),
        "enabled": t.enabled,
        "schedule": t.schedule,
    })
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

async fn list(
    arca: web::Data<Arca>,
    _g: Guard<TasksRead>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let items: Vec<Value> = arca
        .db
        .list_tasks()
        .await?
        .iter()
        .filter(|t| q.kind.as_deref().is_none_or(|k| k == t.type_id))
        .map(task_xo)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items, "continuationToken": null })))
}

async fn find(arca: &Arca, id: &str) -> Result<TaskRow, ApiError> {
    arca.db
        .list_tasks()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| ApiError::NotFound(format!("Task {id} not found")))
}

async fn get(
    arca: web::Data<Arca>,
    _g: Guard<TasksRead>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(task_xo(&find(&arca, &id).await?)))
}

/// Runs the task now: 204 when run, 404 unknown, 405 disabled, 409 while another node keeps it busy.
async fn run(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<TasksStart>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let task = find(&arca, &id).await?;
    if !task.enabled {
        return Ok(HttpResponse::MethodNotAllowed().body(format!("Task {id} is disabled")));
    }
    let owner = format!("api-{}", arca_core::security::random_secret(8));
    // A scheduled run holds the lease for a moment; wait for it rather than refuse at once.
    let mut outcome = None;
    for _ in 0..30 {
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
                "run",
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

/// Nexus answers 409 for a task that is not running. Arca's built-in tasks are short, run under
/// a lease and are not interruptible, so a stop is always that answer (404 for unknown ids).
async fn stop(
    arca: web::Data<Arca>,
    _g: Guard<TasksStart>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    find(&arca, &id).await?;
    Err(ApiError::Conflict(format!(
        "Task {id} is not running or cannot be stopped"
    )))
}
