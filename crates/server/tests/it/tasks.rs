//! Nexus's tasks API: templates (the task types), creation with schedules, update, deletion,
//! and the scheduler running a task when its time comes.

use arca_testkit::{Backend, TestServer, both_backends};
use serde_json::{Value, json};

use crate::{DELETE, GET, POST, PUT, rest};

const API: &str = "/service/rest/v1";

async fn get(s: &TestServer, path: &str) -> (u16, Value) {
    let r = s.admin(GET, &format!("{API}{path}")).send().await.unwrap();
    let st = r.status().as_u16();
    let text = r.text().await.unwrap();
    (st, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn task(kind: &str, frequency: Value, properties: Value) -> Value {
    json!({"type": kind, "name": format!("my {kind}"), "enabled": true,
        "notificationCondition": "FAILURE", "frequency": frequency, "properties": properties})
}

async fn templates_and_schedules(b: Backend) {
    let s = TestServer::start(b).await;
    let (st, all) = get(&s, "/tasks/templates").await;
    assert_eq!(st, 200);
    let types: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    for t in [
        "blobstore.compact",
        "repository.cleanup",
        "repository.docker.gc",
        "repository.docker.upload-purge",
    ] {
        assert!(types.contains(&t), "{t} in {types:?}");
    }
    let (st, gc) = get(&s, "/tasks/templates/repository.docker.gc").await;
    assert_eq!(st, 200);
    assert_eq!(gc["name"], "Docker - Delete unused manifests and images");
    assert_eq!(gc["properties"]["repositoryName"], "*");
    assert_eq!(get(&s, "/tasks/templates/nope").await.0, 404);

    // A cron schedule, Quartz style: the next run is the next noon (UTC).
    let (st, body) = rest(
        &s,
        POST,
        "/tasks",
        task(
            "repository.docker.gc",
            json!({"schedule": "cron", "cronExpression": "0 0 12 * * ?"}),
            json!({"repositoryName": "*", "deployOffset": "24"}),
        ),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["schedule"], "cron");
    assert_eq!(created["cronExpression"], "0 0 12 * * ?");
    assert_eq!(created["currentState"], "WAITING");
    assert_eq!(created["properties"]["deployOffset"], "24");
    assert_eq!(
        created["properties"]["dryRun"], "false",
        "defaults filled in"
    );
    let next = created["nextRun"].as_str().unwrap();
    assert!(next.ends_with("T12:00:00.000+00:00"), "{next}");
    let (_, list) = get(&s, "/tasks?type=repository.docker.gc").await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id.as_str()),
        "{list}"
    );

    // Weekly on Mondays (2) at the start's time of day, in the client's zone.
    let start = 1_764_990_000; // 2025-12-06T03:00:00Z
    let (st, body) = rest(
        &s,
        PUT,
        &format!("/tasks/{id}"),
        json!({"name": "weekly gc", "enabled": true, "frequency": {"schedule": "weekly",
            "startDate": start, "recurringDays": [2], "timeZoneOffset": "+01:00"}}),
    )
    .await;
    assert_eq!(st, 204, "{body}");
    let (_, t) = get(&s, &format!("/tasks/{id}")).await;
    assert_eq!(t["name"], "weekly gc");
    assert_eq!(t["schedule"], "weekly");
    assert_eq!(t["recurringDays"], json!([2]));
    assert_eq!(t["properties"]["deployOffset"], "24", "kept when not given");
    let next = t["nextRun"].as_str().unwrap();
    // 03:00Z is 04:00 at +01:00; Mondays at 04:00+01:00 are 03:00Z.
    assert!(next.ends_with("T03:00:00.000+00:00"), "{next}");

    // Refused changes leave the task as it was.
    for (freq, field) in [
        (
            json!({"schedule": "cron", "cronExpression": "0 0 12 * *"}),
            "frequency.cronExpression",
        ),
        (
            json!({"schedule": "weekly", "startDate": start, "recurringDays": [9]}),
            "frequency.recurringDays",
        ),
        (json!({"schedule": "daily"}), "frequency.startDate"),
        (json!({"schedule": "sometimes"}), "frequency.schedule"),
    ] {
        let (st, body) = rest(
            &s,
            PUT,
            &format!("/tasks/{id}"),
            json!({"name": "broken", "enabled": true, "frequency": freq}),
        )
        .await;
        assert_eq!(st, 400, "{body}");
        let err: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(err[0]["id"], field, "{err}");
    }
    let (_, t) = get(&s, &format!("/tasks/{id}")).await;
    assert_eq!(t["name"], "weekly gc");
    let (st, _) = rest(
        &s,
        PUT,
        &format!("/tasks/{id}"),
        json!({"name": "x", "enabled": true, "type": "repository.cleanup",
            "frequency": {"schedule": "manual"}}),
    )
    .await;
    assert_eq!(st, 400, "a task's type never changes");
    let (st, _) = rest(
        &s,
        POST,
        "/tasks",
        task("no.such.type", json!({"schedule": "manual"}), json!({})),
    )
    .await;
    assert_eq!(st, 400);

    // Manual: no next run. Disabled tasks refuse to run.
    let (st, _) = rest(
        &s,
        PUT,
        &format!("/tasks/{id}"),
        json!({"name": "weekly gc", "enabled": false, "frequency": {"schedule": "manual"}}),
    )
    .await;
    assert_eq!(st, 204);
    let (_, t) = get(&s, &format!("/tasks/{id}")).await;
    assert!(t["nextRun"].is_null(), "{t}");
    assert_eq!(
        s.admin(POST, &format!("{API}/tasks/{id}/run"))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );

    // Deleting: a created task goes; Arca's own stay (disable them instead).
    let r = s
        .admin(DELETE, &format!("{API}/tasks/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(get(&s, &format!("/tasks/{id}")).await.0, 404);
    let r = s
        .admin(DELETE, &format!("{API}/tasks/blob-gc"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(get(&s, "/tasks/blob-gc").await.0, 200);
    // The built-in ones are listed with their schedules.
    let (_, t) = get(&s, "/tasks/docker-gc").await;
    assert_eq!(t["schedule"], "cron", "{t}");
    assert_eq!(t["cronExpression"], "0 0 * * * ?", "{t}");
    assert_eq!(t["type"], "repository.docker.gc");
    let (_, t) = get(&s, "/tasks/docker-upload-purge").await;
    assert_eq!(t["type"], "repository.docker.upload-purge", "{t}");
}

/// A task whose time has come is run by the scheduler (which looks at start and then every
/// minute): a `once` task runs once, then has no next run.
async fn the_scheduler_runs_due_tasks(b: Backend) {
    let mut s = TestServer::start(b).await;
    let soon = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 1000) as i64;
    let (st, body) = rest(
        &s,
        POST,
        "/tasks",
        task(
            "repository.cleanup",
            json!({"schedule": "once", "startDate": soon}),
            json!({}),
        ),
    )
    .await;
    assert_eq!(st, 201, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, t) = get(&s, &format!("/tasks/{id}")).await;
    assert!(t["lastRun"].is_null());
    assert!(t["nextRun"].is_string(), "{t}");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    s.restart().await;
    let mut t = Value::Null;
    for _ in 0..100 {
        t = get(&s, &format!("/tasks/{id}")).await.1;
        if t["lastRun"].is_string() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(t["lastRun"].is_string(), "run at start: {t}");
    assert_eq!(t["lastRunResult"], "OK", "{t}");
    assert!(t["nextRun"].is_null(), "once: {t}");
}

both_backends!(templates_and_schedules, the_scheduler_runs_due_tasks);
