//! Cross-crate scenarios and architecture checks live in `tests/tests`; the chaos run
//! ([`chaos`]) lives here, shared by its test and by `scripts/chaos.sh`.

pub mod chaos;
