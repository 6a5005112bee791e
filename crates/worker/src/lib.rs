//! The forking Resque worker (`resque-worker`).
//!
//! Not built yet: this crate is filled by the worker issue (fork model in
//! `shared/design/DECISIONS.md` §2).
