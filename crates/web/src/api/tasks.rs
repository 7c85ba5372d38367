//! `tasks`: Nexus's tasks: list, get, run, and creation from templates (the task types),
//! update (name, enabled, schedule, properties) and deletion.

use actix_web::{HttpRequest, HttpResponse, web};
use std::collections::BTreeMap;

use arca_core::{
    Arca,
    auth::Guard,
    meta::TaskRow,
    schedule::{Frequency, NEVER},
    task_types::{self, TaskField, TaskSettings, TaskType},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{TasksCreate, TasksDelete, TasksRead, TasksStart, TasksUpdate, audit, paging::page};
use crate::ApiError;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/tasks", web::get().to(list))
        .route("/tasks", web::post().to(create))
        .route("/tasks/templates", web::get().to(templates))
        .route("/tasks/templates/{type_id}", web::get().to(template))
        .route("/tasks/{id}", web::get().to(get))
        .route("/tasks/{id}", web::put().to(update))
        .route("/tasks/{id}", web::delete().to(delete))
        .route("/tasks/{id}/run", web::post().to(run))
        .route("/tasks/{id}/stop", web::post().to(stop));
}

fn iso(ms: Option<i64>) -> Option<String> {
    ms.map(|ms| {
        let (y, m, d, hh, mm, ss) = arca_core::model::utc_parts(ms);
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.000+00:00")
    })
}

/// A task's state: running while a node holds its lease.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum TaskState {
    Waiting,
    Running,
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
    /// manual, once, hourly, daily, weekly, monthly or cron.
    schedule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cron_expression: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    recurring_days: Vec<i32>,
    #[schema(format = DateTime)]
    #[serde(skip_serializing_if = "Option::is_none")]
    start_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_zone_offset: Option<String>,
    /// The task's properties (its type's fields).
    properties: BTreeMap<String, String>,
    /// Always FAILURE: Arca sends no e-mail; failures are logged and audited.
    notification_condition: &'static str,
}

page!(
    /// Every task, on one page.
    PageTaskXO,
    TaskXO
);

fn task_xo(t: &TaskRow) -> TaskXO {
    let settings = TaskSettings::parse(&t.attributes);
    let f = &settings.frequency;
    let running = t.lease_until_ms > arca_core::model::now_ms();
    TaskXO {
        id: t.id.clone(),
        name: t.name.clone(),
        kind: t.type_id.clone(),
        message: t.last_result.clone(),
        current_state: if running {
            TaskState::Running
        } else {
            TaskState::Waiting
        },
        last_run_result: t.last_result.as_deref().map(|r| {
            if r.starts_with("FAILED") {
                TaskResult::Failed
            } else {
                TaskResult::Ok
            }
        }),
        next_run: iso(t.next_run_ms.filter(|n| *n != NEVER && t.enabled)),
        last_run: iso(t.last_run_ms),
        enabled: t.enabled,
        schedule: t.schedule.clone(),
        cron_expression: f.cron_expression.clone(),
        recurring_days: f.recurring_days.clone(),
        start_date: f.start_iso(),
        time_zone_offset: f.time_zone_offset.clone(),
        properties: settings.properties.clone(),
        notification_condition: "FAILURE",
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
    arca.db.get_task(id).await.map_err(|e| match e {
        arca_core::meta::MetaError::NotFound => ApiError::NotFound(format!("Task {id} not found")),
        e => e.into(),
    })
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
    arrived: Arrived,
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<TasksStart>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let asked = arrived.0;
    let task = find(&arca, &id).await?;
    if !task.enabled {
        return Ok(HttpResponse::MethodNotAllowed().body(format!("Task {id} is disabled")));
    }
    let owner = format!("api-{}", arca_core::security::random_secret(8));
    // A run that ends after this request came (scheduled, or asked for on another node)
    // answers it too, so a task asked for on two nodes at the same moment runs once; while
    // another run holds the lease, wait for it rather than refuse at once.
    let (mut outcome, mut joined, mut span) = (None, false, None);
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
        if let Some(ran) = arca_core::tasks::run(&arca, &id, &owner).await? {
            outcome = Some(ran.result);
            span = Some((ran.started_ms, ran.ended_ms));
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
                match span {
                    Some((started, ended)) => {
                        json!({ "result": result, "startedMs": started, "endedMs": ended })
                    }
                    None => json!({ "result": result }),
                },
            )
            .await;
            Ok(HttpResponse::NoContent().finish())
        }
        None => Err(ApiError::Conflict(format!(
            "Task {id} is running on another node"
        ))),
    }
}

/// When a request arrived, in ms since the epoch: taken before the other extractors (the
/// credentials' check can take a while), so that a run which ended after the request came
/// answers it.
pub(crate) struct Arrived(i64);

impl actix_web::FromRequest for Arrived {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(_: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(Ok(Arrived(arca_core::model::now_ms())))
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

/// Nexus's `FrequencyXO`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FrequencyXO {
    /// manual, once, hourly, daily, weekly, monthly or cron.
    schedule: String,
    /// Unix seconds (milliseconds accepted): the first run, and the time of day of daily,
    /// weekly and monthly runs.
    start_date: Option<i64>,
    /// The client's UTC offset, e.g. `-05:00` (UTC when absent).
    time_zone_offset: Option<String>,
    /// weekly: 1 (Sunday) to 7; monthly: 1 to 31, 999 for the last day.
    #[serde(default)]
    recurring_days: Vec<i32>,
    /// Quartz: seconds minutes hours day-of-month month day-of-week [year].
    cron_expression: Option<String>,
}

impl From<FrequencyXO> for Frequency {
    fn from(f: FrequencyXO) -> Self {
        Frequency {
            schedule: f.schedule.trim().to_ascii_lowercase(),
            start_date: f.start_date,
            time_zone_offset: f.time_zone_offset,
            recurring_days: f.recurring_days,
            cron_expression: f.cron_expression,
        }
    }
}

/// Nexus's `TaskTemplateXO`: a task type as the base of a new task, or a new task.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskTemplateXO {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    enabled: bool,
    frequency: FrequencyXO,
    #[serde(default)]
    properties: BTreeMap<String, String>,
    /// Only FAILURE (nothing is mailed; failures are logged and audited).
    #[serde(default = "failure")]
    notification_condition: String,
    /// Not used: no e-mail is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alert_email: Option<String>,
    /// Two runs of one task never overlap; tasks of a type may.
    #[serde(default)]
    concurrent_run: bool,
    /// The properties the type takes (templates only).
    #[serde(default, skip_deserializing, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    fields: Vec<TaskField>,
}

fn failure() -> String {
    "FAILURE".into()
}

fn template_xo(t: &TaskType) -> TaskTemplateXO {
    TaskTemplateXO {
        kind: t.type_id.into(),
        name: t.name.into(),
        enabled: true,
        frequency: FrequencyXO {
            schedule: "manual".into(),
            start_date: None,
            time_zone_offset: None,
            recurring_days: vec![],
            cron_expression: None,
        },
        properties: t
            .fields
            .iter()
            .map(|f| (f.id.to_owned(), f.default.to_owned()))
            .collect(),
        notification_condition: failure(),
        alert_email: None,
        concurrent_run: false,
        fields: t.fields.to_vec(),
    }
}

/// List the task types new tasks can be made of.
#[utoipa::path(
    get,
    operation_id = "list_task_templates",
    path = "/service/rest/v1/tasks/templates",
    tag = "Tasks",
    responses(
        (status = 200, description = "The task types", body = Vec<TaskTemplateXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn templates(
    arca: web::Data<Arca>,
    _g: Guard<TasksRead>,
) -> Result<HttpResponse, ApiError> {
    let all: Vec<TaskTemplateXO> = task_types::all(&arca).iter().map(template_xo).collect();
    Ok(HttpResponse::Ok().json(all))
}

/// Get a task type by its id.
#[utoipa::path(
    get,
    operation_id = "get_task_template",
    path = "/service/rest/v1/tasks/templates/{typeId}",
    tag = "Tasks",
    params(("typeId" = String, Path, description = "The task type's id")),
    responses(
        (status = 200, description = "The task type", body = TaskTemplateXO),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "No such task type"),
    ),
)]
pub(crate) async fn template(
    arca: web::Data<Arca>,
    _g: Guard<TasksRead>,
    type_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = task_types::find(&arca, &type_id)
        .ok_or_else(|| ApiError::NotFound(format!("Task type {type_id} not found")))?;
    Ok(HttpResponse::Ok().json(template_xo(&t)))
}

/// A task's settings checked: the frequency, then the properties against its type.
async fn settings_of(
    arca: &Arca,
    t: &TaskType,
    frequency: FrequencyXO,
    properties: &BTreeMap<String, String>,
) -> Result<TaskSettings, ApiError> {
    let frequency: Frequency = frequency.into();
    frequency
        .validate()
        .map_err(|e| ApiError::invalid(&format!("frequency.{}", e.field), e.message))?;
    let properties = task_types::check_properties(arca, t, properties)
        .await
        .map_err(|e| ApiError::invalid(&format!("properties.{}", e.field), e.message))?;
    Ok(TaskSettings {
        frequency,
        properties,
    })
}

fn check_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::invalid(
            "name",
            "name must have 1 to 200 characters",
        ));
    }
    Ok(name.to_owned())
}

/// Create a task of a type (see the templates).
#[utoipa::path(
    post,
    operation_id = "create_task",
    path = "/service/rest/v1/tasks",
    tag = "Tasks",
    request_body = TaskTemplateXO,
    responses(
        (status = 201, description = "Task created", body = TaskXO),
        (status = 400, description = "Invalid task", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
    ),
)]
pub(crate) async fn create(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<TasksCreate>,
    body: web::Json<TaskTemplateXO>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let t = task_types::find(&arca, &body.kind).ok_or_else(|| {
        ApiError::invalid(
            "type",
            format!(
                "{:?} is not a task type (see /v1/tasks/templates)",
                body.kind
            ),
        )
    })?;
    let name = check_name(&body.name)?;
    let settings = settings_of(&arca, &t, body.frequency, &body.properties).await?;
    let row = TaskRow {
        id: uuid::Uuid::new_v4().to_string(),
        type_id: t.type_id.into(),
        name,
        schedule: settings.frequency.schedule.clone(),
        enabled: body.enabled,
        last_run_ms: None,
        last_result: None,
        next_run_ms: Some(settings.frequency.next_after(arca_core::model::now_ms())),
        attributes: serde_json::to_string(&settings)
            .map_err(|e| ApiError::invalid("*", e.to_string()))?,
        lease_until_ms: 0,
    };
    arca.db.create_task(&row).await?;
    audit(
        &arca,
        &req,
        &g.subject,
        "tasks",
        "created",
        &row.id,
        json!({ "type": row.type_id, "name": row.name, "schedule": row.schedule }),
    )
    .await;
    Ok(HttpResponse::Created().json(task_xo(&find(&arca, &row.id).await?)))
}

/// Nexus's `updateTasks_request`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UpdateTaskRequest {
    name: String,
    enabled: bool,
    frequency: FrequencyXO,
    /// Absent: the task keeps its properties.
    properties: Option<BTreeMap<String, String>>,
    /// If given, the task's own type (a task's type never changes).
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Accepted and ignored: Arca sends no mail (declared: Nexus's schema requires it).
    #[serde(default)]
    #[allow(dead_code)]
    notification_condition: Option<String>,
    /// Accepted and ignored, as `notificationCondition`.
    #[serde(default)]
    #[allow(dead_code)]
    alert_email: Option<String>,
}

/// Change a task's name, enabled flag, schedule or properties.
#[utoipa::path(
    put,
    operation_id = "update_task",
    path = "/service/rest/v1/tasks/{taskId}",
    tag = "Tasks",
    params(("taskId" = String, Path, description = "The task's id")),
    request_body = UpdateTaskRequest,
    responses(
        (status = 204, description = "Task updated"),
        (status = 400, description = "Invalid task", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Task not found"),
    ),
)]
pub(crate) async fn update(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<TasksUpdate>,
    id: web::Path<String>,
    body: web::Json<UpdateTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let mut row = find(&arca, &id).await?;
    if let Some(kind) = body.kind.as_deref().filter(|k| *k != row.type_id) {
        return Err(ApiError::invalid(
            "type",
            format!(
                "task {id} is a {}, not a {kind}; a task's type never changes",
                row.type_id
            ),
        ));
    }
    let t = task_types::find(&arca, &row.type_id).ok_or_else(|| {
        ApiError::invalid(
            "type",
            format!("{} is not a task type of this release", row.type_id),
        )
    })?;
    let properties = body
        .properties
        .unwrap_or_else(|| TaskSettings::parse(&row.attributes).properties);
    let settings = settings_of(&arca, &t, body.frequency, &properties).await?;
    row.name = check_name(&body.name)?;
    row.enabled = body.enabled;
    row.schedule = settings.frequency.schedule.clone();
    row.next_run_ms = Some(settings.frequency.next_after(arca_core::model::now_ms()));
    row.attributes =
        serde_json::to_string(&settings).map_err(|e| ApiError::invalid("*", e.to_string()))?;
    if !arca.db.update_task(&row).await? {
        return Err(ApiError::NotFound(format!("Task {id} not found")));
    }
    audit(
        &arca,
        &req,
        &g.subject,
        "tasks",
        "updated",
        &id,
        json!({ "name": row.name, "enabled": row.enabled, "schedule": row.schedule }),
    )
    .await;
    Ok(HttpResponse::NoContent().finish())
}

/// Delete a task. The task Arca keeps of each type (its built-in ones) can be disabled or
/// rescheduled, not deleted.
#[utoipa::path(
    delete,
    operation_id = "delete_task",
    path = "/service/rest/v1/tasks/{id}",
    tag = "Tasks",
    params(("id" = String, Path, description = "The task's id")),
    responses(
        (status = 204, description = "Task deleted"),
        (status = 400, description = "A built-in task", body = Vec<crate::error::ValidationErrorXO>),
        (status = 401, description = "Authentication required"),
        (status = 403, description = "Insufficient permissions"),
        (status = 404, description = "Task not found"),
    ),
)]
pub(crate) async fn delete(
    req: HttpRequest,
    arca: web::Data<Arca>,
    g: Guard<TasksDelete>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    find(&arca, &id).await?;
    let builtin = task_types::all(&arca)
        .iter()
        .any(|t| t.builtin.is_some_and(|b| b.id == id.as_str()));
    if builtin {
        return Err(ApiError::invalid(
            "id",
            format!("{id} is one of Arca's own tasks: disable it (PUT enabled false) instead"),
        ));
    }
    if !arca.db.delete_task(&id).await? {
        return Err(ApiError::NotFound(format!("Task {id} not found")));
    }
    audit(&arca, &req, &g.subject, "tasks", "deleted", &id, json!({})).await;
    Ok(HttpResponse::NoContent().finish())
}
