//! Ruby's worker hooks, as closures the application registers on [`crate::Builder`].

use resque_protocol::Payload;

/// A job as worker hooks see it: its queue and payload.
#[derive(Debug, Clone, Copy)]
pub struct JobInfo<'a> {
    /// The queue it came from.
    pub queue: &'a str,
    /// Its payload.
    pub payload: &'a Payload,
}

type Hook = Box<dyn Fn() + Send + Sync>;
type JobHook = Box<dyn for<'a> Fn(JobInfo<'a>) + Send + Sync>;
type WorkerHook = Box<dyn Fn(&str) + Send + Sync>;

/// Ruby's worker hooks (`Resque.before_fork = ..`), in registration order. SPEC §1.11:
/// `before_first_fork` once at start-up (also without forking), `before_fork` in the parent
/// and `after_fork` in the child around every fork, `before_pause`/`after_pause` on
/// USR2/CONT (given the worker id), `queue_empty` when the worker goes from working to idle,
/// `worker_exit` after unregistering, `shutdown` when QUIT/TERM/INT asks it to stop.
#[derive(Default)]
pub struct Hooks {
    pub(crate) before_first_fork: Vec<Hook>,
    pub(crate) before_fork: Vec<JobHook>,
    pub(crate) after_fork: Vec<JobHook>,
    pub(crate) before_pause: Vec<WorkerHook>,
    pub(crate) after_pause: Vec<WorkerHook>,
    pub(crate) queue_empty: Vec<Hook>,
    pub(crate) worker_exit: Vec<Hook>,
    pub(crate) shutdown: Vec<Hook>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("before_first_fork", &self.before_first_fork.len())
            .field("before_fork", &self.before_fork.len())
            .field("after_fork", &self.after_fork.len())
            .field("before_pause", &self.before_pause.len())
            .field("after_pause", &self.after_pause.len())
            .field("queue_empty", &self.queue_empty.len())
            .field("worker_exit", &self.worker_exit.len())
            .field("shutdown", &self.shutdown.len())
            .finish()
    }
}
