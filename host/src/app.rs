//! Turning a manifest plus command-line options into a runnable app:
//! resolved variables, databases, key-value stores, compiled and pre-linked
//! components, and the route table.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use wasmtime::component::Linker;
use wasmtime::Engine;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::engine::{build_engine, ComponentCache, EngineOptions};
use crate::key_value::{KeyValueAccess, KeyValueStores, RedisKeyValue, SqliteKeyValue};
use crate::manifest::{AppManifest, ComponentSpec, FileMount, StaticResponse, TriggerTarget};
use crate::outbound::OutboundPolicy;
use crate::outbound_client::OutboundClient;
use crate::outbound_rules::AllowedHostsConfig;
use crate::routing::Router;
use crate::runtime_config::{
    KeyValueStoreConfig, RuntimeConfig, SqliteDatabaseConfig, VariablesProviderConfig,
};
use crate::sqlite::{ConnectionMode, Database, DatabaseLocation, Databases, SqliteAccess};
use crate::state::RequestState;
use crate::variables::{read_dotenv, ComponentVariables, VariableResolver, VariableSource};

/// Everything `up` was told on the command line.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The manifest file.
    pub manifest: PathBuf,
    /// The address to serve on.
    pub listen: SocketAddr,
    /// `--sqlite` statements or `@file`s, run at startup.
    pub sqlite_statements: Vec<String>,
    /// `--sqlite-mode`: how guest connections map to SQLite connections.
    pub sqlite_mode: ConnectionMode,
    /// `--variable key=value` pairs.
    pub variables: Vec<(String, String)>,
    /// `--key-value key=value` pairs set in the default store at startup.
    pub key_values: Vec<(String, String)>,
    /// `-e KEY=VALUE` environment for every component.
    pub environment: Vec<(String, String)>,
    /// `--runtime-config-file`.
    pub runtime_config: Option<PathBuf>,
    /// `--state-dir`; `Some("")` keeps all state in memory.
    pub state_dir: Option<String>,
    /// Longest a request may run before it is interrupted.
    pub request_timeout: Duration,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: u64,
    /// Engine settings.
    pub engine: EngineOptions,
}

/// A component ready to serve: pre-linked, with its granted capabilities.
pub struct LoadedComponent {
    /// The component id.
    pub id: String,
    /// The pre-instantiated component.
    pub pre: ProxyPre<RequestState>,
    /// SQLite databases it may open.
    pub sqlite: SqliteAccess,
    /// Key-value stores it may open.
    pub key_value: KeyValueAccess,
    /// Its variables.
    pub variables: Arc<ComponentVariables>,
    /// Its outbound HTTP policy.
    pub outbound: Arc<OutboundPolicy>,
    /// Its environment.
    pub environment: Vec<(String, String)>,
    /// Its read-only directories.
    pub files: Vec<FileMount>,
}

/// What a route leads to.
pub enum RouteTarget {
    /// A component.
    Component(Arc<LoadedComponent>),
    /// A fixed response.
    Static(StaticResponse),
}

/// A route's target plus the trigger it came from.
pub struct RouteEntry {
    /// The trigger id, for logs.
    pub trigger_id: String,
    /// What handles the route.
    pub target: RouteTarget,
}

/// A loaded application.
pub struct App {
    /// `[application] name`.
    pub name: String,
    /// `[application] version`.
    pub version: Option<String>,
    /// The engine every component runs on.
    pub engine: Engine,
    /// Routes in priority order.
    pub router: Router<RouteEntry>,
    /// Request limits.
    pub request_timeout: Duration,
    /// Largest request body accepted.
    pub max_body_bytes: u64,
    /// Most memory one instance may use.
    pub max_instance_memory: usize,
    /// Most instances alive at once.
    pub max_instances: u32,
    /// Periodic requests the host sends itself (bearers resolved).
    pub schedule: Vec<crate::scheduler::ScheduledRequest>,
    /// Path prefixes whose rest the access log writes as `[redacted]`.
    pub redact_paths: Vec<String>,
}

fn state_dir(options: &UpOptions, runtime: &RuntimeConfig, app_dir: &Path) -> Option<PathBuf> {
    let chosen = options
        .state_dir
        .clone()
        .or_else(|| runtime.state_dir.clone());
    match chosen {
        Some(dir) if dir.is_empty() => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => Some(app_dir.join(".spin")),
    }
}

fn variable_sources(options: &UpOptions, runtime: &RuntimeConfig) -> Vec<VariableSource> {
    let mut sources = Vec::new();
    if !options.variables.is_empty() {
        sources.push(VariableSource::Static(
            options.variables.iter().cloned().collect(),
        ));
    }
    for provider in &runtime.variables_providers {
        sources.push(match provider {
            VariablesProviderConfig::Static { values } => VariableSource::Static(values.clone()),
            VariablesProviderConfig::Env {
                prefix,
                dotenv_path,
            } => VariableSource::Environment {
                prefix: prefix.clone().unwrap_or_else(|| "SPIN_VARIABLE".into()),
                dotenv: dotenv_path.as_deref().map(read_dotenv).unwrap_or_default(),
            },
        });
    }
    sources.push(VariableSource::Environment {
        prefix: "SPIN_VARIABLE".into(),
        dotenv: read_dotenv(Path::new(".env")),
    });
    sources
}

fn databases(runtime: &RuntimeConfig, state: Option<&Path>, mode: ConnectionMode) -> Databases {
    let mut dbs = Databases::default();
    let default = match state {
        Some(dir) => DatabaseLocation::File(dir.join("sqlite_db.db")),
        None => DatabaseLocation::InMemory,
    };
    dbs.insert("default", Database::with_mode(default, mode));
    for (label, config) in &runtime.sqlite_databases {
        let SqliteDatabaseConfig::Spin { path, .. } = config;
        let location = match path {
            Some(path) => DatabaseLocation::File(path.clone()),
            None => DatabaseLocation::InMemory,
        };
        dbs.insert(label, Database::with_mode(location, mode));
    }
    dbs
}

fn key_value_stores(runtime: &RuntimeConfig, state: Option<&Path>) -> Result<KeyValueStores> {
    let mut stores = KeyValueStores::default();
    let mut spin_files: HashMap<Option<PathBuf>, Arc<SqliteKeyValue>> = HashMap::new();
    let mut spin_store = |path: Option<PathBuf>| -> Result<Arc<SqliteKeyValue>> {
        if let Some(existing) = spin_files.get(&path) {
            return Ok(existing.clone());
        }
        let store = Arc::new(
            SqliteKeyValue::open(path.as_deref())
                .map_err(|e| anyhow!("cannot open key-value store: {e}"))?,
        );
        if path.is_some() {
            spin_files.insert(path, store.clone());
        }
        Ok(store)
    };
    if !runtime.key_value_stores.contains_key("default") {
        let default_path = state.map(|dir| dir.join("sqlite_key_value.db"));
        stores.insert("default", spin_store(default_path)?);
    }
    for (label, config) in &runtime.key_value_stores {
        match config {
            KeyValueStoreConfig::Spin { path } => stores.insert(label, spin_store(path.clone())?),
            KeyValueStoreConfig::Redis { url } => stores.insert(
                label,
                Arc::new(
                    RedisKeyValue::open(url)
                        .map_err(|e| anyhow!("key-value store {label:?} at {url}: {e}"))?,
                ),
            ),
        }
    }
    Ok(stores)
}

const P2_HANDLER: &str = "wasi:http/incoming-handler@0.2";
const OTHER_HANDLERS: &[&str] = &["wasi:http/handler@0.3", "fermyon:spin/inbound-http"];

fn check_handler(
    engine: &Engine,
    id: &str,
    component: &wasmtime::component::Component,
) -> Result<()> {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let p2 = exports.iter().filter(|n| n.starts_with(P2_HANDLER)).count();
    let others: Vec<&String> = exports
        .iter()
        .filter(|n| OTHER_HANDLERS.iter().any(|h| n.starts_with(h)))
        .collect();
    match (p2, others.len()) {
        (1, 0) => Ok(()),
        (0, 0) => bail!("component {id:?} exports no HTTP handler (expected wasi:http/incoming-handler@0.2.x)"),
        (0, _) => bail!(
            "component {id:?} exports {}, which this host does not run (only WASI P2 wasi:http/incoming-handler)",
            others[0]
        ),
        _ => bail!("component {id:?} exports more than one HTTP handler"),
    }
}

fn linker(engine: &Engine) -> Result<Linker<RequestState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    crate::sqlite::add_to_linker(&mut linker, RequestState::sqlite_view)?;
    crate::key_value::add_to_linker(&mut linker, RequestState::key_value_view)?;
    crate::variables::add_to_linker(&mut linker, RequestState::variables_view)?;
    Ok(linker)
}

struct Shared {
    databases: Arc<Databases>,
    stores: Arc<KeyValueStores>,
    resolver: Arc<VariableResolver>,
    self_origin: String,
    environment: Vec<(String, String)>,
    client: OutboundClient,
}

fn load_component(
    engine: &Engine,
    linker: &Linker<RequestState>,
    cache: &ComponentCache,
    spec: &ComponentSpec,
    shared: &Shared,
) -> Result<LoadedComponent> {
    let id = &spec.id;
    for label in &spec.sqlite_databases {
        if !shared.databases.contains(label) {
            bail!("component {id:?} uses SQLite database {label:?}, which is not defined; define it in the runtime config");
        }
    }
    for label in &spec.key_value_stores {
        if !shared.stores.contains(label) {
            bail!("component {id:?}: unknown key_value_stores label {label:?}; define it in the runtime config");
        }
    }
    let hosts = AllowedHostsConfig::resolve(&spec.allowed_outbound_hosts, |name| {
        shared.resolver.resolve(name)
    })
    .map_err(|e| anyhow!("component {id:?}: allowed_outbound_hosts: {e}"))?;

    let component = cache
        .load(engine, &spec.source)
        .with_context(|| format!("component {id:?}"))?;
    check_handler(engine, id, &component)?;
    let instance_pre = linker
        .instantiate_pre(&component)
        .map_err(|e| anyhow!("component {id:?} cannot be linked: {e}"))?;
    let pre = ProxyPre::new(instance_pre).map_err(|e| anyhow!("component {id:?}: {e}"))?;

    let mut environment: Vec<(String, String)> = spec.environment.clone().into_iter().collect();
    environment.extend(shared.environment.iter().cloned());
    Ok(LoadedComponent {
        id: id.clone(),
        pre,
        sqlite: SqliteAccess {
            databases: shared.databases.clone(),
            allowed: spec.sqlite_databases.clone().into(),
        },
        key_value: KeyValueAccess {
            stores: shared.stores.clone(),
            allowed: spec.key_value_stores.clone().into(),
        },
        variables: Arc::new(ComponentVariables {
            component: id.clone(),
            templates: spec.variables.clone(),
            resolver: shared.resolver.clone(),
        }),
        outbound: Arc::new(OutboundPolicy {
            component: id.clone(),
            hosts,
            self_origin: shared.self_origin.clone(),
            client: shared.client.clone(),
        }),
        environment,
        files: spec.files.clone(),
    })
}

impl App {
    /// Loads the app: validates everything Spin validates at startup, runs
    /// `--sqlite` statements and `--key-value` settings, and compiles (or
    /// loads from cache) every component a trigger uses.
    pub fn load(options: &UpOptions) -> Result<Self> {
        let manifest = AppManifest::load(&options.manifest)?;
        let runtime = match &options.runtime_config {
            Some(path) => RuntimeConfig::load(path).map_err(|e| anyhow!(e))?,
            None => RuntimeConfig::default(),
        };
        let state = state_dir(options, &runtime, &manifest.app_dir);

        let resolver = Arc::new(VariableResolver::new(
            manifest.variables.clone(),
            variable_sources(options, &runtime),
        ));
        resolver.check_required().map_err(|e| anyhow!(e))?;

        let databases = databases(&runtime, state.as_deref(), options.sqlite_mode);
        for statement in &options.sqlite_statements {
            databases
                .run_startup_statement(statement)
                .map_err(|e| anyhow!(e))?;
        }
        let stores = key_value_stores(&runtime, state.as_deref())?;
        for (key, value) in &options.key_values {
            stores.set_initial(key, value).map_err(|e| anyhow!(e))?;
        }

        let engine = build_engine(&options.engine)?;
        let cache = ComponentCache::new(state.as_ref().map(|dir| dir.join("cache")));
        let linker = linker(&engine)?;
        let shared = Shared {
            databases: Arc::new(databases),
            stores: Arc::new(stores),
            resolver,
            self_origin: options.listen.to_string(),
            environment: options.environment.clone(),
            client: OutboundClient::new(
                !runtime.connection_pooling_disabled,
                runtime.block_networks.clone(),
            ),
        };

        let mut loaded: HashMap<String, Arc<LoadedComponent>> = HashMap::new();
        let mut entries = Vec::new();
        for trigger in &manifest.http_triggers {
            let target = match &trigger.target {
                TriggerTarget::Static(response) => RouteTarget::Static(response.clone()),
                TriggerTarget::Component(id) => {
                    let component = match loaded.get(id) {
                        Some(component) => component.clone(),
                        None => {
                            let spec = manifest
                                .components
                                .get(id)
                                .ok_or_else(|| anyhow!("no such component {id:?}"))?;
                            let component =
                                Arc::new(load_component(&engine, &linker, &cache, spec, &shared)?);
                            loaded.insert(id.clone(), component.clone());
                            component
                        }
                    };
                    RouteTarget::Component(component)
                }
            };
            if let Some(route) = &trigger.route {
                entries.push((
                    route.clone(),
                    RouteEntry {
                        trigger_id: trigger.id.clone(),
                        target,
                    },
                ));
            }
        }
        let (router, losers) = Router::build(entries);
        for loser in losers {
            eprintln!("error: duplicate route {loser:?}: the last one declared wins");
        }
        for (pattern, _) in router.routes() {
            if pattern.based().starts_with("/.well-known/spin/") {
                eprintln!("warning: route {:?} is never reachable", pattern.raw());
            }
        }
        let schedule = manifest
            .schedule
            .iter()
            .map(|entry| -> Result<crate::scheduler::ScheduledRequest> {
                let bearer = match &entry.bearer_variable {
                    Some(v) => Some(shared.resolver.resolve(v).map_err(|e| anyhow!(e))?),
                    None => None,
                };
                Ok(crate::scheduler::ScheduledRequest {
                    entry: entry.clone(),
                    bearer,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            schedule,
            redact_paths: manifest.redact_paths.clone(),
            name: manifest.name,
            version: manifest.version,
            engine,
            router,
            request_timeout: options.request_timeout,
            max_body_bytes: options.max_body_bytes,
            max_instance_memory: options.engine.max_instance_memory,
            max_instances: options.engine.max_instances,
        })
    }
}
