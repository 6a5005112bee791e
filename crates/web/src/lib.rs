//! resque-web: the Resque monitoring dashboard, as an axum [`Router`] that any axum
//! application mounts under a prefix, and as the `resque-web` binary.
//!
//! Every page and URL of Ruby's resque-web 3.0 is here (Overview, Working, Failed, Queues,
//! Workers, Stats, `/stats.txt`, live polling), reading the same Redis keys, so Ruby's
//! workers and ours show alike. What Ruby's gets wrong is fixed: every string from Redis
//! is HTML-escaped by the templates; every state change is a POST carrying a CSRF token;
//! HTTP basic auth is one setting; pages read pages, never whole lists (SCAN, not KEYS).
//! Beyond Ruby's: `/metrics` (Prometheus), a JSON API under `/api`, and failure search.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // The Rust form of `mount Resque::Server.new, at: "/resque"`:
//! let dashboard = resque_web::router(resque_web::Config::new("localhost:6379"));
//! let app = axum::Router::new().nest("/resque", dashboard);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

mod app;
mod assets;
mod chart;
#[cfg(feature = "cli")]
pub mod cli;
mod data;
mod error;
mod figures;
mod key_list;
mod pages;
mod query;
mod views;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use resque_failure::Backend;
use resque_store::ConnectOptions;

pub use app::Web;

/// Items shown per page, as Ruby's resque-web.
pub const PER_PAGE: u64 = 20;

/// How the dashboard connects and behaves.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) connection: String,
    pub(crate) namespace: Option<String>,
    pub(crate) backend: Backend,
    pub(crate) url_prefix: String,
    pub(crate) auth: Option<(String, String)>,
    pub(crate) csrf_secret: Option<String>,
    pub(crate) connect: ConnectOptions,
    pub(crate) poll_interval: Duration,
    pub(crate) tabs: Vec<(String, String)>,
    pub(crate) schedule: Vec<(String, resque_protocol::ScheduleConfig)>,
    pub(crate) scheduler_lock_prefix: Option<String>,
    pub(crate) request_spans: bool,
}

impl Config {
    /// A dashboard over the Redis at `connection` (any form `resque_store::Connection`
    /// accepts: `localhost:6379`, `localhost:6379:2`, `redis://...`, `unix:///...`).
    /// Connection attempts are made per request until one succeeds, so the dashboard starts
    /// (and shows "Can't connect to Redis!") while Redis is down.
    pub fn new(connection: impl Into<String>) -> Self {
        Self {
            connection: connection.into(),
            namespace: None,
            backend: Backend::redis(),
            url_prefix: String::new(),
            auth: None,
            csrf_secret: None,
            connect: ConnectOptions {
                reconnect: true,
                connect_timeout: Duration::from_secs(2),
                command_timeout: Duration::from_secs(5),
                ..ConnectOptions::default()
            },
            poll_interval: Duration::from_secs(2),
            tabs: Vec::new(),
            schedule: Vec::new(),
            scheduler_lock_prefix: None,
            request_spans: false,
        }
    }

    /// The Redis namespace (`-N`); default: the connection string's, else `resque`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// The failure backend whose lists the Failed pages show (`FAILURE_BACKEND`).
    pub fn failure_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// A prefix put before every link (`-a`, for a reverse proxy that strips it). Routes
    /// are unchanged; a router mounted with `nest` needs no prefix: it reads its own.
    pub fn url_prefix(mut self, prefix: impl Into<String>) -> Self {
        let p = prefix.into();
        let p = p.trim_end_matches('/');
        self.url_prefix = if p.is_empty() || p.starts_with('/') {
            p.to_owned()
        } else {
            format!("/{p}")
        };
        self
    }

    /// Requires HTTP basic auth with these credentials on every route.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some((user.into(), password.into()));
        self
    }

    /// The CSRF token forms must carry; default: 32 random bytes per router. Set it when
    /// several processes serve the same dashboard behind one load balancer.
    pub fn csrf_secret(mut self, secret: impl Into<String>) -> Self {
        self.csrf_secret = Some(secret.into());
        self
    }

    /// Connection timeouts (defaults: 2 s to connect, 5 s a command, reconnect on).
    pub fn connect_options(mut self, options: ConnectOptions) -> Self {
        self.connect = options;
        self
    }

    /// How often live polling refreshes a page (default 2 s, as Ruby's).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll_interval = every;
        self
    }

    /// The static schedule the Schedule tab shows beside the schedules stored in Redis
    /// (the scheduler's `--schedule` file, read with `resque_protocol::schedule::parse_file`).
    pub fn schedule(mut self, entries: Vec<(String, resque_protocol::ScheduleConfig)>) -> Self {
        self.schedule = entries;
        self
    }

    /// The scheduler's `RESQUE_SCHEDULER_MASTER_LOCK_PREFIX`, for "Current master".
    pub fn scheduler_lock_prefix(mut self, prefix: impl Into<String>) -> Self {
        let p = prefix.into();
        self.scheduler_lock_prefix = (!p.is_empty()).then_some(p);
        self
    }

    /// Runs each request in a `request` span (`method`, `path`), so every line logged while
    /// serving it carries them (`resque-web` turns it on with `LOGFORMAT=json` or `logfmt`).
    /// Off by default: an application that mounts the dashboard has its own request spans.
    pub fn request_spans(mut self, on: bool) -> Self {
        self.request_spans = on;
        self
    }

    /// Adds a tab linking to `href` (relative hrefs are put under the dashboard's root),
    /// as Ruby plugins append to `Resque::Server.tabs`.
    pub fn tab(mut self, label: impl Into<String>, href: impl Into<String>) -> Self {
        self.tabs.push((label.into(), href.into()));
        self
    }
}

/// The dashboard's routes, ready to serve or to `nest` under a prefix.
pub fn router(config: Config) -> Router {
    let spans = config.request_spans;
    let web = Web::new(config);
    let app = routes().layer(axum::middleware::from_fn_with_state(web.clone(), app::auth));
    let app = if spans {
        app.layer(axum::middleware::from_fn(app::request_span))
    } else {
        app
    };
    app.with_state(web)
}

fn routes() -> Router<Web> {
    use pages::*;
    let html = Router::new()
        .route("/", get(root_redirect))
        .route("/overview", get(overview))
        .route("/overview.poll", get(overview_poll))
        .route("/overview/{id}", get(overview_id))
        .route("/working", get(working))
        .route("/working/{id}", get(working_one))
        .route("/workers", get(workers))
        .route("/workers.poll", get(workers_poll))
        .route("/workers/{id}", get(workers_id))
        .route("/queues", get(queues))
        .route("/queues/{id}", get(queue))
        .route("/queues/{id}/remove", post(remove_queue))
        .route("/failed", get(failed))
        .route("/failed/{queue}", get(failed_list))
        .route("/failed/clear", post(failed_clear))
        .route("/failed/clear_retried", post(failed_clear_retried))
        .route("/failed/{queue}/clear", post(failed_clear_list))
        .route("/failed/requeue/all", post(failed_requeue_all))
        .route("/failed/{queue}/requeue/all", post(failed_requeue_list))
        .route("/failed/requeue/matching", post(failed_requeue_matching))
        .route("/failed/remove/matching", post(failed_remove_matching))
        .route(
            "/failed/{queue}/requeue/matching",
            post(failed_requeue_matching_list),
        )
        .route(
            "/failed/{queue}/remove/matching",
            post(failed_remove_matching_list),
        )
        .route("/failed/requeue/{index}", post(failed_requeue))
        .route("/failed/{queue}/requeue/{index}", post(failed_requeue_in))
        .route("/failed/remove/{index}", post(failed_remove))
        .route("/failed/{queue}/remove/{index}", post(failed_remove_in))
        .route(
            "/schedule",
            get(schedule).post(schedule_delete).delete(schedule_delete),
        )
        .route("/schedule/requeue", post(schedule_requeue))
        .route(
            "/schedule/requeue_with_params",
            post(schedule_requeue_with_params),
        )
        .route("/delayed", get(delayed))
        .route("/delayed/search", post(delayed_search))
        .route("/delayed/queue_now", post(delayed_queue_now))
        .route("/delayed/cancel_now", post(delayed_cancel_now))
        .route("/delayed/clear", post(delayed_clear))
        .route("/delayed/jobs/{klass}", get(delayed_jobs))
        .route("/delayed/{timestamp}", get(delayed_timestamp))
        .route("/job-metrics", get(job_metrics))
        .route("/job-metrics/class", get(job_metrics_class))
        .route("/retry", get(retry))
        .route("/retry/{timestamp}", get(retry_timestamp))
        .route("/retry/{timestamp}/remove", post(retry_remove_timestamp))
        .route(
            "/retry/{timestamp}/jobs/{id}/remove",
            post(retry_remove_job),
        )
        .route("/stats", get(stats_redirect))
        .route("/stats/{id}", get(stats))
        .route("/stats/keys/{key}", get(stats_key))
        .route("/stats.txt", get(data::stats_txt))
        .route("/metrics", get(data::metrics))
        .route("/api", get(data::api_index))
        .route("/api/info", get(data::api_info))
        .route("/api/metrics", get(data::api_metrics))
        .route("/api/queues", get(data::api_queues))
        .route("/api/queues/{id}", get(data::api_queue))
        .route("/api/workers", get(data::api_workers))
        .route("/api/workers/{id}", get(data::api_worker))
        .route("/api/working", get(data::api_working))
        .route("/api/failed", get(data::api_failed))
        .route("/api/failed/{queue}", get(data::api_failed_list));
    assets::routes(html)
        .fallback(not_found)
        .layer(axum::middleware::map_response(app::common_headers))
}
