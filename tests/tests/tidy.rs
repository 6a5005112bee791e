//! Architecture invariants from ARCHITECTURE.md, checked on the source tree.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name()
                .is_some_and(|n| n != "target" && n != "fixtures")
            {
                rust_files(&p, out);
            }
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Internal crates each crate's `[dependencies]` names (dev-dependencies excluded).
fn internal_deps() -> Result<BTreeMap<String, Vec<String>>> {
    let mut map = BTreeMap::new();
    for e in fs::read_dir(root().join("crates"))? {
        let dir = e?.path();
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).context("manifest")?;
        let name = manifest
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .and_then(|l| l.strip_suffix('"'))
            .context("package name")?
            .to_owned();
        let mut deps = Vec::new();
        let mut in_deps = false;
        for line in manifest.lines() {
            if line.starts_with('[') {
                in_deps = line == "[dependencies]";
                continue;
            }
            if in_deps && (line.starts_with("resque") || line.starts_with("fred")) {
                deps.push(
                    line.split(['.', ' ', '='])
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
        map.insert(name, deps);
    }
    Ok(map)
}

#[test]
fn dependency_direction_is_kept() -> Result<()> {
    // Each crate may depend only on the crates listed for it (ARCHITECTURE.md).
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("resque-protocol", &[][..]),
        ("resque-store", &["resque-protocol", "fred"][..]),
        ("resque-failure", &["resque-protocol", "resque-store"][..]),
        (
            "resque-worker",
            &[
                "resque-protocol",
                "resque-store",
                "resque-failure",
                "resque-log",
            ][..],
        ),
        (
            "resque-web",
            &[
                "resque-protocol",
                "resque-store",
                "resque-failure",
                "resque-log",
            ][..],
        ),
        (
            "resque-scheduler",
            &[
                "resque-protocol",
                "resque-store",
                "resque-failure",
                "resque-worker",
                "resque-log",
            ][..],
        ),
        (
            "resque-rs",
            &[
                "resque-protocol",
                "resque-store",
                "resque-failure",
                "resque-worker",
                "resque-scheduler",
                "resque-web",
            ][..],
        ),
        ("resque-test-support", &[][..]),
        ("resque-log", &[][..]),
    ]);
    for (krate, deps) in internal_deps()? {
        let ok = allowed
            .get(krate.as_str())
            .with_context(|| format!("{krate} is not in the map; add it to ARCHITECTURE.md"))?;
        for d in deps {
            assert!(
                ok.contains(&d.as_str()),
                "{krate} must not depend on {d} (see ARCHITECTURE.md)"
            );
        }
    }
    Ok(())
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    assert!(files.len() > 10);
    for f in files {
        let text = fs::read_to_string(&f).unwrap_or_default();
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        assert!(
            first.starts_with("//!") || first.starts_with("#![doc"),
            "{} has no //! header",
            f.display()
        );
    }
}

#[test]
fn key_names_and_redis_live_in_their_crates() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    for f in files {
        let path = f.to_string_lossy().replace('\\', "/");
        let text = fs::read_to_string(&f).unwrap_or_default();
        let in_tests = path.contains("/tests/") || path.contains("test-support");
        if !path.contains("crates/protocol/") && !in_tests {
            // Rust format strings, and key names inside Lua scripts.
            for needle in [
                "format!(\"resque:",
                "\"queue:{",
                "\"stat:{",
                "\"worker:{",
                "'queue:'",
                "'delayed:",
                "'timestamps:",
                "'delayed_queue_schedule'",
            ] {
                assert!(
                    !text.contains(needle),
                    "{path} spells a key ({needle}); key names live in resque-protocol"
                );
            }
        }
        if !path.contains("crates/store/") {
            assert!(
                !text.contains("fred::"),
                "{path} uses fred; only resque-store talks to Redis"
            );
        }
        if path.contains("crates/store/") || path.contains("crates/worker/") {
            for forbidden in ["tokio::signal", "tokio::process"] {
                assert!(
                    !text.contains(forbidden),
                    "{path} uses {forbidden}, which breaks across fork()"
                );
            }
        }
    }
}

#[test]
fn source_files_stay_readable_and_each_idea_has_one_home() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    for f in files {
        let path = f.to_string_lossy().replace('\\', "/");
        if !path.contains("/src/") {
            continue;
        }
        let text = fs::read_to_string(&f).unwrap_or_default();
        let lines = text.lines().count();
        assert!(
            lines <= 800,
            "{path} has {lines} lines; split it along its own sections (a directory module)"
        );
        // FAILURE_BACKEND's names are parsed in one place.
        if !path.ends_with("crates/failure/src/backend.rs") {
            assert!(
                !text.contains("\"redis_multi_queue\" =>"),
                "{path} parses failure backend names; use Backend::from_names / for_reading"
            );
        }
        // A worker's in-flight job is failed in one place.
        if !path.ends_with("crates/failure/src/unregister.rs") {
            assert!(
                !text.contains("JOB_STILL_BEING_PROCESSED.to_owned()"),
                "{path} writes a DirtyExit record itself; use Backend::unregister_worker"
            );
        }
    }
}
