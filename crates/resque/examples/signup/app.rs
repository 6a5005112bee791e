//! The signup application shared by `signup_web` and `signup_worker`: a struct argument,
//! an async job with retries (resque-retry's settings) and hooks, a follow-up job delayed
//! three days (resque-scheduler's `enqueue_in`), the state they use, the web handler that
//! enqueues, and their unit tests (inline mode, no Redis).
// Each of the two binaries uses its own part of this file.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use resque::RetryPolicy;
use resque::prelude::*;
use serde::{Deserialize, Serialize};

/// The job's argument: stored as one hash, `"args":[{"user_id":7,"email":"..."}]`, which
/// is what Ruby's `Resque.enqueue(SendWelcome, user_id: 7, email: "...")` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Signup {
    pub(crate) user_id: u64,
    pub(crate) email: String,
}

/// Where mail goes. The application builds it once per process that runs jobs (the
/// worker's `state`), never before a fork: the relay's connection pool is not fork-safe.
pub(crate) enum Mailer {
    /// Production: the mail relay is a Resque service of its own (a Ruby ActionMailer
    /// worker, say) reading the `outbox` queue in the `mail` namespace of the
    /// application's Redis, reached through a pool of two connections opened by the first
    /// mail.
    Relay {
        url: String,
        pool: tokio::sync::OnceCell<resque::Client>,
    },
    /// Tests: mail kept in memory (the test holds the other handle).
    Outbox(Arc<Mutex<Vec<String>>>),
}

impl Mailer {
    /// The relay at `url` (not connected yet: the first mail connects).
    pub(crate) fn relay(url: &str) -> Self {
        Self::Relay {
            url: url.to_owned(),
            pool: tokio::sync::OnceCell::new(),
        }
    }

    /// Sends one mail.
    pub(crate) async fn send(&self, to: &str, body: String) -> Result<(), JobError> {
        match self {
            Self::Relay { url, pool } => {
                let relay = pool
                    .get_or_try_init(|| {
                        resque::Client::builder(url)
                            .namespace("mail")
                            .pool_size(2)
                            .connect()
                    })
                    .await?;
                relay
                    .enqueue_to("outbox", "Mail::Deliver", vec![to.into(), body.into()])
                    .await?;
            }
            Self::Outbox(sent) => sent
                .lock()
                .map_err(|_| JobError::msg("outbox poisoned"))?
                .push(format!("{to}: {body}")),
        }
        Ok(())
    }
}

/// Sends the welcome mail. An [`AsyncJob`]: the worker runs it on the runtime it lends, in
/// the child it forked (or in itself with `FORK_PER_JOB=false`).
pub(crate) struct SendWelcome;

impl AsyncJob for SendWelcome {
    const CLASS: &'static str = "SendWelcome";
    const QUEUE: &'static str = "mail";
    type Args = Signup;

    /// A relay that is down fails the job; it is tried again after 1 minute, 10 minutes and
    /// an hour, then recorded as failed. A bad address is never tried again. (The same
    /// settings as resque-retry's `@retry_limit`, `@backoff_strategy`, `@fatal_exceptions`,
    /// and the same keys, so a Ruby worker on the same queue shares the attempts.)
    fn retry_policy() -> Option<RetryPolicy> {
        Some(
            RetryPolicy::exponential_backoff()
                .backoff([60.0, 600.0, 3600.0])
                .fatal_exceptions(["ArgumentError"]),
        )
    }

    /// A hook, as Ruby's `before_perform`: test accounts (user 0) get no mail. Ruby's
    /// `raise Resque::Job::DontPerform`: the job is skipped, neither run nor failed.
    async fn before_perform(signup: &Signup, _ctx: &mut Context) -> Result<(), JobError> {
        if signup.user_id == 0 {
            return Err(JobError::dont_perform());
        }
        Ok(())
    }

    /// A hook, as Ruby's `after_perform`: three days after the welcome, the tips mail. A
    /// delayed job (resque-scheduler's `delayed:<ts>` keys): `resque-scheduler` moves it to
    /// its queue when it is due.
    async fn after_perform(signup: &Signup, ctx: &mut Context) -> Result<(), JobError> {
        ctx.client()
            .await?
            .enqueue_in::<SendTips>(Duration::from_secs(3 * 24 * 3600), signup.clone())
            .await?;
        Ok(())
    }

    async fn perform(signup: &Signup, ctx: &mut Context) -> Result<(), JobError> {
        if !signup.email.contains('@') {
            // Recorded as `ArgumentError` in the failed list, like a Ruby job raising it.
            return Err(JobError::new(
                "ArgumentError",
                format!("no address in {:?}", signup.email),
            ));
        }
        let mailer = ctx.state::<Mailer>()?;
        mailer
            .send(&signup.email, format!("Welcome, user {}!", signup.user_id))
            .await
    }
}

/// The tips mail, delayed by [`SendWelcome`]'s `after_perform`.
pub(crate) struct SendTips;

impl AsyncJob for SendTips {
    const CLASS: &'static str = "SendTips";
    const QUEUE: &'static str = "mail";
    type Args = Signup;

    async fn perform(signup: &Signup, ctx: &mut Context) -> Result<(), JobError> {
        let mailer = ctx.state::<Mailer>()?;
        mailer
            .send(&signup.email, "Three tips for your first week".to_owned())
            .await
    }
}

/// The web side: `POST /signup` with a JSON body enqueues the welcome mail.
pub(crate) mod web {
    use axum::Json;
    use axum::extract::State;
    use axum::http::StatusCode;

    use super::{SendWelcome, Signup};

    /// The handler: 202 once the job is enqueued, 503 with the reason when Redis is not
    /// there (or, inline, when the job failed).
    pub(crate) async fn signup(
        State(client): State<resque::Client>,
        Json(signup): Json<Signup>,
    ) -> Result<StatusCode, (StatusCode, String)> {
        client
            .enqueue::<SendWelcome>(signup)
            .await
            .map(|_| StatusCode::ACCEPTED)
            .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
    }

    /// The application's routes.
    pub(crate) fn router(client: resque::Client) -> axum::Router {
        axum::Router::new()
            .route("/signup", axum::routing::post(signup))
            .with_state(client)
    }
}

#[cfg(test)]
mod tests {
    use axum::Json;
    use axum::extract::State;
    use axum::http::StatusCode;

    use super::*;

    /// An inline client (no Redis anywhere) whose jobs mail into the returned outbox.
    fn inline() -> (resque::Client, Arc<Mutex<Vec<String>>>) {
        let outbox = Arc::new(Mutex::new(Vec::new()));
        let mut registry = Registry::new();
        let shared = Arc::clone(&outbox);
        registry
            .register::<SendWelcome>()
            .register::<SendTips>()
            .state(move || Mailer::Outbox(Arc::clone(&shared)));
        (resque::Client::inline().with_registry(registry), outbox)
    }

    fn signup(user_id: u64, email: &str) -> Json<Signup> {
        Json(Signup {
            user_id,
            email: email.to_owned(),
        })
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_signup_sends_the_welcome_mail() {
        let (client, outbox) = inline();
        let status = web::signup(State(client), signup(7, "ada@example.com")).await;
        assert_eq!(status, Ok(StatusCode::ACCEPTED));
        let sent = outbox.lock().map(|s| s.clone()).unwrap_or_default();
        // Inline, the delayed tips mail runs at once (as Ruby's inline mode does).
        assert_eq!(
            sent,
            [
                "ada@example.com: Welcome, user 7!",
                "ada@example.com: Three tips for your first week"
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn test_accounts_get_no_mail() {
        let (client, outbox) = inline();
        let status = web::signup(State(client), signup(0, "test@example.com")).await;
        assert_eq!(status, Ok(StatusCode::ACCEPTED));
        assert!(outbox.lock().map(|s| s.is_empty()).unwrap_or(false));
    }

    #[test]
    fn a_relay_failure_is_retried_and_a_bad_address_is_not() {
        let Some(policy) = <SendWelcome as AsyncJob>::retry_policy() else {
            panic!("SendWelcome has a retry policy");
        };
        assert_eq!(policy.retry_limit(), 3, "one retry per backoff step");
        assert!(policy.retries_on("Redis::CannotConnectError"));
        assert!(!policy.retries_on("ArgumentError"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_bad_address_fails_the_job_and_the_request() {
        let (client, outbox) = inline();
        let status = web::signup(State(client), signup(8, "nobody")).await;
        let Err((code, message)) = status else {
            panic!("expected a failure, got {status:?}");
        };
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(message.contains("ArgumentError: no address"), "{message}");
        assert!(outbox.lock().map(|s| s.is_empty()).unwrap_or(false));
    }
}
