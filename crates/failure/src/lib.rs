//! Failure backends for resque-rs (Redis, RedisMultiQueue, Multiple, Airbrake-style HTTP).
//!
//! Not built yet: this crate is filled by the failure-backend issue. Until then the Redis
//! backend's record format lives in `resque_protocol::failure` and `resque-store` writes the
//! records Ruby's default backend writes.
