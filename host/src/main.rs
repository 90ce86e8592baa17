//! `spin-host`: a Spin-compatible runner for WASI P2 HTTP components.
//!
//! `spin-host up` reads a Spin manifest v2 and serves its HTTP triggers the
//! way `spin up` does, so the same `spin.toml` and components run unchanged
//! here and under real Spin. The command line is here; the host is the
//! `spin_host` library.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};

use spin_host::app::{App, UpOptions};
use spin_host::engine::EngineOptions;
use spin_host::{scheduler, server, sqlite};

#[derive(Parser)]
#[command(
    name = "spin-host",
    version,
    about = "A Spin-compatible runner for WASI P2 HTTP components"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the application (like `spin up`).
    Up(UpArgs),
}

#[derive(clap::Args)]
struct UpArgs {
    /// The application manifest.
    #[arg(short = 'f', long = "from", default_value = "spin.toml")]
    from: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "SPIN_HTTP_LISTEN_ADDR", default_value = "127.0.0.1:3000")]
    listen: String,
    /// SQL to run against the default database at startup (`@file.sql` runs a file).
    #[arg(long = "sqlite")]
    sqlite: Vec<String>,
    /// How guest connections map to SQLite connections: "pooled" (ours:
    /// pooled connections, statement cache, one writer admitted at a time)
    /// or "spin" (Spin's own: a fresh connection per open, SQLite's
    /// sleeping busy handler), to measure the app as real Spin runs it.
    #[arg(
        long = "sqlite-mode",
        env = "SPIN_HOST_SQLITE_MODE",
        default_value = "pooled"
    )]
    sqlite_mode: sqlite::ConnectionMode,
    /// SQLite's process-wide memory statistics, "on" or "off" (default: off
    /// in the pooled mode; on in the Spin mode, as Spin 4.0.2 ships it).
    /// With them on, every SQLite allocation takes one process-wide mutex;
    /// "off" in the Spin mode measures a Spin built with
    /// `LIBSQLITE3_FLAGS=SQLITE_DEFAULT_MEMSTATUS=0`.
    #[arg(
        long = "sqlite-memory-statistics",
        env = "SPIN_HOST_SQLITE_MEMORY_STATISTICS",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    sqlite_memory_statistics: Option<bool>,
    /// Application variable value, `key=value`.
    #[arg(long = "variable")]
    variables: Vec<String>,
    /// Value set in the default key-value store at startup, `key=value`.
    #[arg(long = "key-value")]
    key_values: Vec<String>,
    /// Environment variable for every component, `KEY=VALUE`.
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Runtime configuration file.
    #[arg(long = "runtime-config-file", env = "RUNTIME_CONFIG_FILE")]
    runtime_config_file: Option<PathBuf>,
    /// State directory (default `.spin` beside the manifest; "" keeps state in memory).
    #[arg(long = "state-dir")]
    state_dir: Option<String>,
    /// Longest a request may run, in seconds, before it is interrupted.
    #[arg(long = "request-timeout", default_value_t = 30.0)]
    request_timeout: f64,
    /// Largest request body accepted, in bytes.
    #[arg(long = "max-body-bytes", default_value_t = 10 * 1024 * 1024)]
    max_body_bytes: u64,
    /// Most linear memory one instance may use, in bytes.
    #[arg(long = "max-instance-memory", env = "SPIN_MAX_INSTANCE_MEMORY", default_value_t = 256 * 1024 * 1024)]
    max_instance_memory: usize,
    /// Most instances alive at once.
    #[arg(
        long = "max-instances",
        env = "SPIN_MAX_INSTANCE_COUNT",
        default_value_t = 1000
    )]
    max_instances: u32,
    /// Use the on-demand allocator instead of the pooling allocator.
    #[arg(long = "disable-pooling")]
    disable_pooling: bool,
    /// Seconds to let in-flight requests finish after SIGINT/SIGTERM.
    #[arg(long = "shutdown-timeout", default_value_t = 10.0)]
    shutdown_timeout: f64,
}

fn key_value_pair(text: &str, flag: &str) -> Result<(String, String)> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| anyhow!("{flag} {text:?}: expected KEY=VALUE"))
}

fn parse_listen(text: &str) -> Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .with_context(|| format!("invalid --listen address {text:?}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| anyhow!("--listen {text:?} resolves to no address"))
}

fn duration(seconds: f64, flag: &str) -> Result<Duration> {
    Duration::try_from_secs_f64(seconds)
        .map_err(|_| anyhow!("{flag} must be a positive number of seconds"))
}

impl UpArgs {
    fn into_options(self) -> Result<UpOptions> {
        let pairs = |items: &[String], flag: &str| -> Result<Vec<(String, String)>> {
            items.iter().map(|s| key_value_pair(s, flag)).collect()
        };
        let mut variables = Vec::new();
        for item in &self.variables {
            let (key, value) = key_value_pair(item, "--variable")?;
            let value = match value.strip_prefix('@') {
                Some(file) => std::fs::read_to_string(file)
                    .with_context(|| format!("--variable {key}: cannot read {file}"))?,
                None => value,
            };
            variables.push((key, value));
        }
        Ok(UpOptions {
            manifest: self.from,
            listen: parse_listen(&self.listen)?,
            sqlite_statements: self.sqlite,
            sqlite_mode: self.sqlite_mode,
            variables,
            key_values: pairs(&self.key_values, "--key-value")?,
            environment: pairs(&self.env, "--env")?,
            runtime_config: self.runtime_config_file,
            state_dir: self.state_dir,
            request_timeout: duration(self.request_timeout, "--request-timeout")?,
            max_body_bytes: self.max_body_bytes,
            engine: EngineOptions {
                pooling: !self.disable_pooling,
                max_instances: self.max_instances.max(1),
                max_instance_memory: self.max_instance_memory,
            },
        })
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

fn up(args: UpArgs) -> Result<()> {
    let memory_statistics = args
        .sqlite_memory_statistics
        .unwrap_or(args.sqlite_mode == sqlite::ConnectionMode::Spin);
    // SAFETY: nothing has started a thread yet; the async runtime and every
    // SQLite connection come after this.
    unsafe { sqlite::set_memory_statistics(memory_statistics) }?;
    let grace = duration(args.shutdown_timeout, "--shutdown-timeout")?;
    let options = args.into_options()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let started = std::time::Instant::now();
        let app = Arc::new(App::load(&options)?);
        let listener = server::bind(options.listen)
            .with_context(|| format!("cannot listen on {}", options.listen))?;
        let local = listener.local_addr()?;
        eprintln!(
            "Serving http://{local} (app {:?} loaded in {} ms)",
            app.name,
            started.elapsed().as_millis()
        );
        eprintln!("Available Routes:");
        for (pattern, entry) in app.router.routes() {
            eprintln!("  {}: http://{local}{}", entry.trigger_id, pattern.raw());
        }
        scheduler::spawn(local, app.schedule.clone());
        let server = Arc::new(server::Server::new(app));
        server.serve(listener, shutdown_signal(), grace).await;
        eprintln!("stopped");
        Ok(())
    })
}

fn main() {
    // wasmtime builds an error value whenever a store is dropped (once per
    // request); with RUST_BACKTRACE set, each would capture a native
    // backtrace. Library backtraces stay off unless asked for explicitly;
    // panics still honour RUST_BACKTRACE. Set before any thread starts.
    if std::env::var_os("RUST_LIB_BACKTRACE").is_none() {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => up(args),
    };
    if let Err(e) = result {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}
