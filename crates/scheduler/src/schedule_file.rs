//! Reading the `--schedule` file (the format is `resque_protocol::schedule::parse_file`'s).

use std::path::Path;

use resque_protocol::ScheduleConfig;

/// Reads and checks a schedule file, so a bad one is refused before the scheduler starts.
pub(crate) fn load(path: &Path) -> anyhow::Result<Vec<(String, ScheduleConfig)>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read schedule file {}: {e}", path.display()))?;
    resque_protocol::schedule::parse_file(&text)
        .map_err(|e| anyhow::anyhow!("schedule file {}: {e}", path.display()))
}
