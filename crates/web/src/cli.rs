//! The `resque-web` command line ([`main`]), Ruby's `resque-web` options.
//!
//! `resque-web [-p PORT] [-o HOST] [-N NAMESPACE] [-r REDIS] [-a URL_PREFIX] [-P PIDFILE]
//! [-K] [-S] [-d] [CONFIG]`. Runs in the foreground (Ruby's default was to daemonize; its
//! `-F` and `-L` are accepted). Stops gracefully on TERM and INT, removing its pid file.
//!
//! Each instance keeps its pid and URL in `APP_DIR/resque_web-<port>.pid` and `.url`, so
//! two on different ports do not share one; `-K` and `-S` act on the `-p` port's instance,
//! or on every instance in APP_DIR when no port is given.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use std::process::ExitCode;

use resque_failure::Backend;

/// Port Ruby's resque-web listens on by default.
const DEFAULT_PORT: u16 = 5678;

#[derive(Debug, Parser)]
#[command(
    name = "resque-web",
    version,
    about = "The Resque dashboard (resque-rs), compatible with Ruby's resque-web",
    after_help = "CONFIG is a file of KEY=VALUE lines (REDIS_URL, RESQUE_NAMESPACE, \
                  FAILURE_BACKEND, RESQUE_WEB_AUTH), or Ruby lines of the forms \
                  `Resque.redis = \"...\"` and `Resque.redis.namespace = \"...\"`."
)]
struct Args {
    /// Port to listen on [default: 5678, or the next free one when it is taken].
    #[arg(short = 'p', long)]
    port: Option<u16>,
    /// Address to bind.
    #[arg(short = 'o', long, default_value = "0.0.0.0")]
    host: String,
    /// Redis namespace.
    #[arg(short = 'N', long, env = "RESQUE_NAMESPACE")]
    namespace: Option<String>,
    /// Redis connection string (`host:port`, `host:port:db`, `redis://...`, `unix:///...`).
    #[arg(short = 'r', long, env = "REDIS_URL")]
    redis: Option<String>,
    /// URL prefix for links (a reverse proxy that strips it).
    #[arg(short = 'a', long = "append")]
    url_prefix: Option<String>,
    /// Failure backend whose lists the Failed tab shows (`redis`, `redis_multi_queue`, ...).
    #[arg(long, env = "FAILURE_BACKEND", default_value = "redis")]
    failure_backend: String,
    /// Require HTTP basic auth, `user:password`.
    #[arg(long, env = "RESQUE_WEB_AUTH", hide_env_values = true)]
    auth: Option<String>,
    /// Pid file [default: APP_DIR/resque_web.pid].
    #[arg(short = 'P', long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Where the URL is written [default: APP_DIR/resque_web.url].
    #[arg(long = "url-file")]
    url_file: Option<PathBuf>,
    /// Log file (appended to) instead of standard error.
    #[arg(long = "log-file")]
    log_file: Option<PathBuf>,
    /// State directory [default: ~/resque_web].
    #[arg(long = "app-dir")]
    app_dir: Option<PathBuf>,
    /// A resque-scheduler schedule file, shown on the Schedule tab beside the schedules
    /// stored in Redis.
    #[arg(long = "schedule", env = "RESQUE_SCHEDULE")]
    schedule: Option<PathBuf>,
    /// The scheduler's master lock prefix, for "Current master".
    #[arg(long = "lock-prefix", env = "RESQUE_SCHEDULER_MASTER_LOCK_PREFIX")]
    lock_prefix: Option<String>,
    /// Stop the running instance (from its pid file) and exit.
    #[arg(short = 'K', long)]
    kill: bool,
    /// Print the running instance's pid and URL, and exit.
    #[arg(short = 'S', long)]
    status: bool,
    /// Debug logging.
    #[arg(short = 'd', long)]
    debug: bool,
    /// Log lines as text, or one JSON object (or logfmt line) each.
    #[arg(long = "log-format", env = "LOGFORMAT", default_value = "text")]
    log_format: String,
    /// Accepted for Ruby compatibility: resque-web always runs in the foreground.
    #[arg(short = 'F', long)]
    foreground: bool,
    /// Accepted for Ruby compatibility: no browser is ever launched.
    #[arg(short = 'L', long = "no-launch")]
    no_launch: bool,
    /// Accepted for Ruby compatibility (Rack handler); there is one server.
    #[arg(short = 's', long)]
    server: Option<String>,
    /// Accepted for Ruby compatibility: ports are probed without a proxy anyway.
    #[arg(short = 'x', long = "no-proxy")]
    no_proxy: bool,
    /// Configuration file (see below); also `RESQUECONFIG`.
    #[arg(env = "RESQUECONFIG")]
    config: Option<PathBuf>,
}

/// Settings a CONFIG file may give; command-line values win.
#[derive(Debug, Default)]
struct FileConfig {
    redis: Option<String>,
    namespace: Option<String>,
    failure_backend: Option<String>,
    auth: Option<String>,
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner.to_owned();
        }
    }
    v.to_owned()
}

fn read_config(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut c = FileConfig::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("require ") {
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .with_context(|| format!("{}:{}: not KEY=VALUE: {line}", path.display(), n + 1))?;
        let v = unquote(v);
        match k.trim() {
            "REDIS_URL" | "Resque.redis" => c.redis = Some(v),
            "RESQUE_NAMESPACE" | "Resque.redis.namespace" => c.namespace = Some(v),
            "FAILURE_BACKEND" => c.failure_backend = Some(v),
            "RESQUE_WEB_AUTH" => c.auth = Some(v),
            other => bail!(
                "{}:{}: unsupported setting {other:?} (resque-web reads REDIS_URL, \
                 RESQUE_NAMESPACE, FAILURE_BACKEND, RESQUE_WEB_AUTH, Resque.redis, \
                 Resque.redis.namespace; Ruby code is not evaluated)",
                path.display(),
                n + 1
            ),
        }
    }
    Ok(c)
}

fn app_dir(args: &Args) -> PathBuf {
    args.app_dir.clone().unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from("."), PathBuf::from)
            .join("resque_web")
    })
}

/// The pid file of the instance on `port`: `-P`, else `APP_DIR/resque_web-<port>.pid`.
fn pid_file(args: &Args, port: u16) -> PathBuf {
    args.pid_file
        .clone()
        .unwrap_or_else(|| app_dir(args).join(format!("resque_web-{port}.pid")))
}

/// Where the instance on `port` writes its URL: `--url-file`, else beside `-P`'s pid file
/// (`web.pid` → `web.url`), else `APP_DIR/resque_web-<port>.url`.
fn url_file(args: &Args, port: u16) -> PathBuf {
    match (&args.url_file, &args.pid_file) {
        (Some(u), _) => u.clone(),
        (None, Some(p)) => p.with_extension("url"),
        (None, None) => app_dir(args).join(format!("resque_web-{port}.url")),
    }
}

/// The pid files `-K` and `-S` look at, with each one's URL file: `-P`'s, the `-p` port's,
/// or every instance's in APP_DIR.
fn instances(args: &Args) -> Vec<(PathBuf, PathBuf)> {
    if let Some(port) = args.port {
        return vec![(pid_file(args, port), url_file(args, port))];
    }
    if let Some(p) = &args.pid_file {
        return vec![(p.clone(), url_file(args, 0))];
    }
    let dir = app_dir(args);
    let mut found: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let port = name.strip_prefix("resque_web-")?.strip_suffix(".pid")?;
            port.parse::<u16>().ok()?;
            Some((e.path(), dir.join(format!("resque_web-{port}.url"))))
        })
        .collect();
    found.sort();
    found
}

fn running_pid(path: &Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
    // Signal 0: is it alive?
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
        .ok()
        .map(|()| pid)
}

/// `-K`: TERM the running instance(s) and wait for each to go.
fn kill_running(args: &Args) -> anyhow::Result<ExitCode> {
    let mut killed = 0;
    for (path, url) in instances(args) {
        let Some(pid) = running_pid(&path) else {
            let _ = std::fs::remove_file(&path);
            continue;
        };
        let target = nix::unistd::Pid::from_raw(pid);
        nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM)
            .with_context(|| format!("cannot signal pid {pid}"))?;
        for _ in 0..100 {
            if nix::sys::signal::kill(target, None).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&url);
        println!("Killed resque-web (pid {pid})");
        killed += 1;
    }
    if killed == 0 {
        println!(
            "resque-web is not running (no live pid file in {})",
            app_dir(args).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `-S`: each running instance's pid and URL; exit status 1 when none runs.
fn status(args: &Args) -> anyhow::Result<ExitCode> {
    let mut running = 0;
    for (path, url) in instances(args) {
        if let Some(pid) = running_pid(&path) {
            let url = std::fs::read_to_string(url).unwrap_or_default();
            println!("resque-web running, pid {pid}, at {}", url.trim());
            running += 1;
        }
    }
    if running == 0 {
        println!("resque-web is not running");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// Binds the port asked for, or (none asked) 5678 or the next free one, as Ruby does.
async fn bind(args: &Args) -> anyhow::Result<tokio::net::TcpListener> {
    let ports: Vec<u16> = match args.port {
        Some(p) => vec![p],
        None => (DEFAULT_PORT..DEFAULT_PORT.saturating_add(100)).collect(),
    };
    let mut last = None;
    for port in ports {
        match tokio::net::TcpListener::bind((args.host.as_str(), port)).await {
            Ok(l) => return Ok(l),
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && args.port.is_none() => {
                last = Some(e);
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot listen on {}:{port}", args.host));
            }
        }
    }
    Err(anyhow::anyhow!(
        "no free port from {DEFAULT_PORT}: {last:?}"
    ))
}

fn init_logging(args: &Args) -> anyhow::Result<()> {
    let level = if args.debug {
        tracing::Level::DEBUG
    } else {
        tracing::Level::INFO
    };
    let format: resque_log::LogFormat = args
        .log_format
        .parse()
        .map_err(|e: String| anyhow::anyhow!("{e}"))?;
    let structured = resque_log::Structured {
        format,
        progname: "resque-web",
    };
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false);
    let text = format == resque_log::LogFormat::Text;
    match &args.log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open log file {}", path.display()))?;
            let b = builder
                .with_ansi(false)
                .with_writer(std::sync::Mutex::new(file));
            if text {
                b.init()
            } else {
                b.fmt_fields(resque_log::JsonFields)
                    .event_format(structured)
                    .init()
            }
        }
        // Colours only for a terminal: stderr sent to a file gets plain text.
        None => {
            let b = builder
                .with_ansi(text && std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_writer(std::io::stderr);
            if text {
                b.init()
            } else {
                b.fmt_fields(resque_log::JsonFields)
                    .event_format(structured)
                    .init()
            }
        }
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut f =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(f, "{text}")?;
    Ok(())
}

/// The `resque-web` program: parses the command line and serves until TERM or INT.
/// Errors are one line on stderr and exit status 1.
pub fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("resque-web: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.kill {
        return kill_running(&args);
    }
    if args.status {
        return status(&args);
    }
    let file = match &args.config {
        Some(p) => read_config(p)?,
        None => FileConfig::default(),
    };
    init_logging(&args)?;
    if args.server.is_some() {
        tracing::info!("-s/--server is accepted for compatibility and ignored");
    }
    let _ = (args.foreground, args.no_launch, args.no_proxy);

    let redis = args
        .redis
        .clone()
        .or(file.redis)
        .unwrap_or_else(|| "localhost:6379".to_owned());
    // Fail on a bad connection string now, not on every page.
    resque_store::Connection::parse(&redis)?;
    let backend_name = file
        .failure_backend
        .filter(|_| std::env::var_os("FAILURE_BACKEND").is_none())
        .unwrap_or_else(|| args.failure_backend.clone());
    // The first member's lists are shown (Ruby's Multiple); notifiers need no settings.
    let backend = Backend::for_reading(&backend_name)?;
    let open = args.auth.is_none() && file.auth.is_none();
    let structured = args
        .log_format
        .parse::<resque_log::LogFormat>()
        .is_ok_and(|f| f != resque_log::LogFormat::Text);
    let mut config = crate::Config::new(redis)
        .failure_backend(backend)
        .request_spans(structured);
    if let Some(path) = &args.schedule {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read schedule file {}", path.display()))?;
        let entries = resque_protocol::schedule::parse_file(&text)
            .map_err(|e| anyhow::anyhow!("schedule file {}: {e}", path.display()))?;
        config = config.schedule(entries);
    }
    if let Some(prefix) = &args.lock_prefix {
        config = config.scheduler_lock_prefix(prefix.clone());
    }
    if let Some(ns) = args.namespace.clone().or(file.namespace) {
        config = config.namespace(ns);
    }
    if let Some(p) = &args.url_prefix {
        config = config.url_prefix(p.clone());
    }
    if let Some(auth) = args.auth.clone().or(file.auth) {
        let (user, pass) = auth
            .split_once(':')
            .context("--auth / RESQUE_WEB_AUTH must be user:password")?;
        config = config.basic_auth(user, pass);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(serve(args, config, open))?;
    Ok(ExitCode::SUCCESS)
}

/// Binds, writes the pid and URL files, and serves until TERM or INT. `open`: no basic auth.
async fn serve(args: Args, config: crate::Config, open: bool) -> anyhow::Result<()> {
    // Handlers first: a TERM that arrives as soon as the pid file exists must still be a
    // graceful stop.
    let mut signals = signal_hook_tokio::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .context("cannot install signal handlers")?;
    let listener = bind(&args).await?;
    let addr: SocketAddr = listener.local_addr()?;
    // The address really bound (`0.0.0.0:5678`, `[::1]:5679`), not a guess at a name.
    let url = format!("http://{addr}/");
    if addr.ip().is_unspecified() && open {
        tracing::warn!(
            "listening on every interface ({addr}) without --auth: anyone who can reach this \
             port can requeue, remove and clear jobs; bind 127.0.0.1 (-o) or set --auth"
        );
    }
    let pid_path = pid_file(&args, addr.port());
    if let Some(pid) = running_pid(&pid_path).filter(|p| *p != std::process::id() as i32) {
        tracing::warn!(
            pid,
            "another resque-web's pid file is at {}; replacing it",
            pid_path.display()
        );
    }
    write_file(&pid_path, &std::process::id().to_string())?;
    let url_path = url_file(&args, addr.port());
    if let Err(e) = write_file(&url_path, &url) {
        tracing::warn!(error = %e, "cannot write the url file");
    }
    tracing::info!("resque-web listening on {url} (pid {})", std::process::id());
    // The same line on stdout, for scripts that wait for it.
    println!("resque-web listening on {url}");
    let _ = std::io::stdout().flush();

    let shutdown = async move {
        if let Some(sig) = signals.next().await {
            tracing::info!(signal = sig, "shutting down");
        }
    };
    let app = crate::router(config);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = std::fs::remove_file(&pid_path);
    let _ = std::fs::remove_file(&url_path);
    served.context("server error")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_accept_env_lines_and_ruby_assignments() -> anyhow::Result<()> {
        let dir = tempfile_dir()?;
        let p = dir.join("config.rb");
        std::fs::write(
            &p,
            "# comment\nrequire 'resque'\nResque.redis = \"localhost:6380:2\"\nResque.redis.namespace = 'myapp'\nFAILURE_BACKEND=redis_multi_queue\n",
        )?;
        let c = read_config(&p)?;
        assert_eq!(c.redis.as_deref(), Some("localhost:6380:2"));
        assert_eq!(c.namespace.as_deref(), Some("myapp"));
        assert_eq!(c.failure_backend.as_deref(), Some("redis_multi_queue"));
        std::fs::write(&p, "Resque::Server.tabs << 'Schedule'\n")?;
        let err = read_config(&p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("not KEY=VALUE"), "{err}");
        std::fs::write(&p, "Resque.logger = Logger.new\n")?;
        let err = read_config(&p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("unsupported setting"), "{err}");
        std::fs::remove_dir_all(dir)?;
        Ok(())
    }

    fn tempfile_dir() -> anyhow::Result<PathBuf> {
        let d = std::env::temp_dir().join(format!("resque-web-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&d)?;
        Ok(d)
    }
}
