//! The Schedule tab, at resque-scheduler's routes: every recurring schedule (the
//! dashboard's own `--schedule` file, then the ones stored in Redis, which win, as Ruby
//! merges them), the current master, when each last fired; "Queue now" (asking for the
//! entry's `parameters` first) and, for stored schedules, Delete.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use resque_protocol::{Interval, Map, ScheduleConfig, Value};

use super::Page;
use crate::app::{CheckedForm, Conn, Root, Web};
use crate::error::Error;
use crate::views::*;

/// One row of the schedule table.
#[derive(Debug, Clone)]
pub(crate) struct ScheduleRow {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) interval: String,
    pub(crate) class: String,
    pub(crate) queue: String,
    pub(crate) args: String,
    pub(crate) last: String,
    /// Stored in Redis (so it can be deleted there).
    pub(crate) stored: bool,
    /// The config could not be read or its interval does not parse.
    pub(crate) problem: Option<String>,
}

/// Ruby's `schedule_interval`: `every` first (with its options), then `cron`.
fn interval_text(config: &ScheduleConfig) -> String {
    let m = config.as_map();
    let every = m.get("every").filter(|v| !v.is_null());
    match (every, config.interval()) {
        (Some(_), Ok(Some(i @ Interval::Every(_)))) => i.describe(),
        (Some(v), _) => format!("every: {}", show_value(v)),
        (None, Ok(Some(i))) => i.describe(),
        (None, _) => match m.get("cron").filter(|v| !v.is_null()) {
            Some(c) => format!("cron: {}", show_value(c)),
            None => "Not currently scheduled".to_owned(),
        },
    }
}

fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => resque_protocol::json::to_string(other).unwrap_or_default(),
    }
}

impl Web {
    /// The merged schedule: the configured file's entries, then Redis's (stored wins).
    async fn schedules(
        &self,
        c: &Conn,
    ) -> Result<Vec<(String, Result<ScheduleConfig, String>, bool)>, Error> {
        let mut merged: std::collections::BTreeMap<String, (Result<ScheduleConfig, String>, bool)> =
            self.config()
                .schedule
                .iter()
                .map(|(n, cfg)| (n.clone(), (Ok(cfg.clone()), false)))
                .collect();
        for (name, config) in c.client.all_schedules().await? {
            merged.insert(name, (config.map_err(|e| e.to_string()), true));
        }
        Ok(merged
            .into_iter()
            .map(|(n, (c, stored))| (n, c, stored))
            .collect())
    }

    async fn schedule_config(&self, c: &Conn, name: &str) -> Result<ScheduleConfig, Error> {
        self.schedules(c)
            .await?
            .into_iter()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| Error::NotFound(format!("No schedule named {name:?}")))?
            .1
            .map_err(Error::Conflict)
    }
}

pub(crate) async fn schedule(State(web): State<Web>, root: Root) -> Page {
    let c = web.conn().await?;
    let store = c.client.store()?;
    let lock = store
        .keys()
        .scheduler_master_lock(web.config().scheduler_lock_prefix.as_deref());
    let master = store.master_lock_holder(&lock).await?;
    let mut rows = Vec::new();
    for (name, config, stored) in web.schedules(&c).await? {
        let last = c
            .client
            .last_enqueued_at(&name)
            .await?
            .unwrap_or_else(|| "Never".to_owned());
        rows.push(match config {
            Ok(cfg) => ScheduleRow {
                description: cfg.description().unwrap_or_default().to_owned(),
                interval: interval_text(&cfg),
                class: cfg.enqueued_class(&name).to_owned(),
                queue: cfg.queue().unwrap_or("(the class's queue)").to_owned(),
                args: show_args(Some(&Value::Array(cfg.args()))),
                problem: cfg.interval().err().map(|e| e.to_string()),
                name,
                last,
                stored,
            },
            Err(e) => ScheduleRow {
                name,
                description: String::new(),
                interval: String::new(),
                class: String::new(),
                queue: String::new(),
                args: String::new(),
                last,
                stored,
                problem: Some(e),
            },
        });
    }
    Ok(SchedulePage {
        l: web.chrome(&root, "schedule", false),
        base: format!("{}/schedule", root.0),
        rows,
        master: master.unwrap_or_else(|| "none (no scheduler is master)".to_owned()),
    }
    .into_response())
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct JobName {
    job_name: String,
    #[serde(rename = "_method")]
    method: Option<String>,
}

/// Pushes a schedule's job now, as Ruby's `enqueue_from_config` (its queue must be known:
/// the dashboard has no job classes to ask).
async fn enqueue_now(
    c: &Conn,
    name: &str,
    config: &ScheduleConfig,
    args: Vec<Value>,
) -> Result<(), Error> {
    let class = config.enqueued_class(name);
    let Some(queue) = config.queue() else {
        return Err(Error::BadRequest(format!(
            "schedule {name:?} names no queue; only a scheduler that knows class {class} can enqueue it"
        )));
    };
    c.client.enqueue_to(queue, class, args).await?;
    Ok(())
}

/// `POST /schedule/requeue`: "Queue now"; an entry with `parameters` asks for them first.
pub(crate) async fn schedule_requeue(
    State(web): State<Web>,
    root: Root,
    form: CheckedForm<JobName>,
) -> Page {
    let c = web.conn().await?;
    let name = form.0.job_name;
    let config = web.schedule_config(&c, &name).await?;
    if let Some(params) = config.parameters() {
        let fields = params
            .iter()
            .map(|(key, spec)| ParamField {
                key: key.clone(),
                description: spec.get("description").map(show_value).unwrap_or_default(),
                default: spec.get("default").map(show_value).unwrap_or_default(),
            })
            .collect();
        return Ok(ParamsPage {
            l: web.chrome(&root, "schedule", false),
            action: format!("{}/schedule/requeue_with_params", root.0),
            name,
            fields,
        }
        .into_response());
    }
    enqueue_now(&c, &name, &config, config.args()).await?;
    Ok(Redirect::to(&format!("{}/overview", root.0)).into_response())
}

/// `POST /schedule/requeue_with_params`: the entry's hash args merged with the submitted
/// parameters (only those the entry declares), then enqueued.
pub(crate) async fn schedule_requeue_with_params(
    State(web): State<Web>,
    root: Root,
    form: CheckedForm<std::collections::HashMap<String, String>>,
) -> Page {
    let c = web.conn().await?;
    let fields = form.0;
    let name = fields
        .get("job_name")
        .cloned()
        .ok_or_else(|| Error::BadRequest("job_name is missing".to_owned()))?;
    let config = web.schedule_config(&c, &name).await?;
    let mut args: Map<String, Value> = match config.as_map().get("args") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    for key in config
        .parameters()
        .map(|p| p.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if let Some(v) = fields.get(&key) {
            args.insert(key, Value::String(v.clone()));
        }
    }
    enqueue_now(&c, &name, &config, vec![Value::Object(args)]).await?;
    Ok(Redirect::to(&format!("{}/overview", root.0)).into_response())
}

/// `DELETE /schedule` (a form's `POST` with `_method=delete`, as Rack's MethodOverride):
/// removes a stored schedule.
pub(crate) async fn schedule_delete(
    State(web): State<Web>,
    root: Root,
    form: CheckedForm<JobName>,
) -> Page {
    if form
        .0
        .method
        .as_deref()
        .is_some_and(|m| !m.eq_ignore_ascii_case("delete"))
    {
        return Err(Error::BadRequest(
            "POST /schedule only deletes (_method=delete)".to_owned(),
        ));
    }
    let c = web.conn().await?;
    if !c.client.remove_schedule(&form.0.job_name).await? {
        return Err(Error::NotFound(format!(
            "No schedule named {:?} is stored in Redis (a schedule from a file is removed from the file)",
            form.0.job_name
        )));
    }
    Ok(Redirect::to(&format!("{}/schedule", root.0)).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "schedule/schedule.html")]
pub(crate) struct SchedulePage {
    pub(crate) l: Chrome,
    pub(crate) base: String,
    pub(crate) rows: Vec<ScheduleRow>,
    pub(crate) master: String,
}

/// A parameter "Queue now" asks for.
#[derive(Debug, Clone)]
pub(crate) struct ParamField {
    pub(crate) key: String,
    pub(crate) description: String,
    pub(crate) default: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "schedule/params.html")]
pub(crate) struct ParamsPage {
    pub(crate) l: Chrome,
    pub(crate) action: String,
    pub(crate) name: String,
    pub(crate) fields: Vec<ParamField>,
}
