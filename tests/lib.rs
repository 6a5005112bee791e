//! Cross-crate scenarios and architecture checks live in `tests/tests`.
