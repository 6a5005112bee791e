//! resque-web, the monitoring dashboard.
//!
//! Not built yet: this crate is filled by the web UI issue.
