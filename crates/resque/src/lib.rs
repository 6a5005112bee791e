#![doc = include_str!("../README.md")]

#[doc(inline)]
pub use resque_failure as failure;
#[doc(inline)]
pub use resque_protocol as protocol;
#[doc(inline)]
pub use resque_store as store;
/// The resque-web dashboard (feature `web`): `resque::web::router(..)` to mount.
#[cfg(feature = "web")]
pub use resque_web as web;
#[doc(inline)]
pub use resque_worker as worker;

#[doc(inline)]
pub use resque_protocol::{Failure, Keys, Payload, Value, WorkerId, WorkingOn};
#[doc(inline)]
pub use resque_store::{
    Client, ConnectOptions, Connection, Context, Error, Info, Job, JobError, Performed, Registry,
    Result, Store, blocking,
};

/// The repository README's Rust examples, compiled as doc tests (`rust,no_run` blocks).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}

/// The types most applications touch.
pub mod prelude {
    pub use resque_store::{Client, Context, Error, Job, JobError, Registry};
}
