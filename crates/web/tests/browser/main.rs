//! The dashboard in a real headless Chromium (Debian `chromium`), one file per area:
//! every tab opened, the scripts run under the content security policy (relative times,
//! the live poll and its graph), the buttons pressed, and screenshots (desktop and phone
//! width) saved under `target/tmp/browser-screenshots/`.

mod chrome;
mod dashboard;
mod metrics;
mod scheduler;

type R<T = ()> = anyhow::Result<T>;
