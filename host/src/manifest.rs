//! Loading and validating a Spin manifest v2 (`spin.toml`).
//!
//! The parser is strict in the same places real Spin 4.x is strict, so an app
//! that starts here also starts under `spin up`, and a manifest `spin up`
//! would refuse is refused here too, with an error naming the offending key,
//! variable or component.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::ids;
use crate::outbound_rules::AllowedHostsConfig;
use crate::routing::RoutePattern;
use crate::template::Template;

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read manifest {path}: {source}")]
    Read {
        /// The manifest path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or mistyped keys.
    #[error("invalid manifest {path}: {message}")]
    Parse {
        /// The manifest path.
        path: PathBuf,
        /// What the TOML parser said, including the offending key.
        message: String,
    },
    /// The manifest parsed but breaks one of Spin's rules.
    #[error("invalid manifest: {0}")]
    Invalid(String),
}

fn invalid(message: impl Into<String>) -> ManifestError {
    ManifestError::Invalid(message.into())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, RawVariable>,
    #[serde(default)]
    trigger: BTreeMap<String, Vec<toml::Table>>,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // Accepted for Spin compatibility; the host has no use for them.
struct RawApplication {
    name: String,
    version: Option<String>,
    description: Option<String>,
    #[serde(default)]
    authors: Vec<String>,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    trigger: BTreeMap<String, toml::Table>,
    #[serde(default)]
    tool: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    secret: bool,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSource {
    Local(String),
    Remote {
        url: String,
        digest: String,
    },
    Registry {
        #[serde(default)]
        registry: Option<String>,
        package: String,
        version: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawFileMount {
    Pattern(String),
    Placement { source: String, destination: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    #[allow(dead_code)]
    command: toml::Value,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    watch: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawComponent {
    source: RawSource,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    files: Vec<RawFileMount>,
    #[serde(default)]
    exclude_files: Vec<String>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    allowed_http_hosts: Vec<String>,
    #[serde(default)]
    key_value_stores: Vec<String>,
    #[serde(default)]
    sqlite_databases: Vec<String>,
    #[serde(default)]
    ai_models: Vec<String>,
    #[serde(default)]
    targets: Option<toml::Value>,
    #[serde(default)]
    build: Option<RawBuild>,
    #[serde(default)]
    tool: Option<toml::Table>,
    #[serde(default)]
    dependencies: Option<toml::Table>,
    #[serde(default)]
    dependencies_inherit_configuration: Option<bool>,
    #[serde(default)]
    profile: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawRoute {
    Path(String),
    Private { private: bool },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawComponentRef {
    Id(String),
    Inline(Box<RawComponent>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStaticResponse {
    #[serde(default)]
    status_code: Option<u16>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum RawExecutor {
    Http,
    Spin,
    Wagi {
        #[serde(default)]
        #[allow(dead_code)]
        argv: Option<String>,
        #[serde(default)]
        entrypoint: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpTrigger {
    route: Option<RawRoute>,
    #[serde(default)]
    component: Option<RawComponentRef>,
    #[serde(default)]
    static_response: Option<RawStaticResponse>,
    #[serde(default)]
    executor: Option<RawExecutor>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    components: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpAppTrigger {
    #[serde(default)]
    base: Option<String>,
}

/// A directory made visible to a component's guest file system.
#[derive(Debug, Clone)]
pub struct FileMount {
    /// The directory on the host.
    pub host_path: PathBuf,
    /// Where the guest sees it.
    pub guest_path: String,
}

/// A component as declared in `[component.<id>]`, validated.
#[derive(Debug, Clone)]
pub struct ComponentSpec {
    /// The component id (kebab-case).
    pub id: String,
    /// The `.wasm` file, resolved against the manifest's directory.
    pub source: PathBuf,
    /// Component variable templates, keyed by the component's variable name.
    pub variables: BTreeMap<String, Template>,
    /// Environment variables given to the guest.
    pub environment: BTreeMap<String, String>,
    /// Read-only directories given to the guest.
    pub files: Vec<FileMount>,
    /// The outbound hosts this component may reach (templates unresolved).
    pub allowed_outbound_hosts: Vec<String>,
    /// Key-value store labels the component may open.
    pub key_value_stores: Vec<String>,
    /// SQLite database labels the component may open.
    pub sqlite_databases: Vec<String>,
}

/// What an HTTP trigger answers with.
#[derive(Debug, Clone)]
pub enum TriggerTarget {
    /// Run a component.
    Component(String),
    /// Answer with a fixed response without instantiating anything.
    Static(StaticResponse),
}

/// A fixed response configured with `static_response`.
#[derive(Debug, Clone)]
pub struct StaticResponse {
    /// The status code (200 unless given).
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
}

/// An `[[trigger.http]]` entry, validated.
#[derive(Debug, Clone)]
pub struct HttpTrigger {
    /// The trigger id (given or generated the way Spin generates it).
    pub id: String,
    /// The route, or `None` for `route = { private = true }`.
    pub route: Option<RoutePattern>,
    /// What handles requests on the route.
    pub target: TriggerTarget,
}

/// An application variable declared under `[variables]`.
#[derive(Debug, Clone)]
pub struct AppVariable {
    /// The default value; `None` means the variable is required.
    pub default: Option<String>,
    /// Whether the value is a secret (informational only, as in Spin).
    #[allow(dead_code)]
    pub secret: bool,
}

/// A loaded and validated application.
#[derive(Debug, Clone)]
pub struct AppManifest {
    /// The directory containing the manifest; relative paths resolve against it.
    pub app_dir: PathBuf,
    /// `[application] name`.
    pub name: String,
    /// `[application] version`.
    pub version: Option<String>,
    /// Application variables.
    pub variables: BTreeMap<String, AppVariable>,
    /// Components by id.
    pub components: BTreeMap<String, ComponentSpec>,
    /// HTTP triggers in declaration order.
    pub http_triggers: Vec<HttpTrigger>,
    /// Periodic requests for our host's scheduler
    /// (`[application.tool.spin-host] schedule`, ignored by Spin).
    pub schedule: Vec<crate::scheduler::ScheduleEntry>,
    /// Path prefixes whose rest is a secret (a token in the URL) and is
    /// written as `[redacted]` in the access log
    /// (`[application.tool.spin-host] redact_paths`, ignored by Spin).
    pub redact_paths: Vec<String>,
}

impl AppManifest {
    /// Reads and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let app_dir = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let app_dir = if app_dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            app_dir
        };
        Self::parse(&text, &app_dir).map_err(|e| match e {
            ManifestError::Parse { message, .. } => ManifestError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parses manifest text; `app_dir` is where relative paths resolve.
    pub fn parse(text: &str, app_dir: &Path) -> Result<Self, ManifestError> {
        let value: toml::Table = toml::from_str(text).map_err(|e| ManifestError::Parse {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        match value.get("spin_manifest_version") {
            Some(toml::Value::Integer(2)) => {}
            Some(toml::Value::String(s)) if s == "1" => {
                return Err(invalid(
                    "manifest version 1 is not supported by this host; convert it to `spin_manifest_version = 2`",
                ))
            }
            Some(other) => {
                return Err(invalid(format!(
                    "`spin_manifest_version` must be 2, found {other}"
                )))
            }
            None => return Err(invalid("missing `spin_manifest_version = 2`")),
        }
        let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Parse {
            path: PathBuf::new(),
            message: e.to_string(),
        })?;
        let _ = &raw.spin_manifest_version;
        build(raw, app_dir)
    }
}

fn build(raw: RawManifest, app_dir: &Path) -> Result<AppManifest, ManifestError> {
    let RawApplication {
        name,
        version,
        description: _,
        authors: _,
        targets: _,
        trigger: app_triggers,
        tool,
    } = raw.application;

    for (trigger_type, table) in app_triggers {
        if trigger_type == "http" {
            let http: RawHttpAppTrigger = toml::Value::Table(table)
                .try_into()
                .map_err(|e| invalid(format!("[application.trigger.http]: {e}")))?;
            if let Some(base) = http.base {
                if base != "/" {
                    return Err(invalid(format!(
                        "[application.trigger.http] base = {base:?} is not supported: only \"/\" is allowed; prepend the base to each route instead"
                    )));
                }
                eprintln!("warning: [application.trigger.http] base is deprecated; remove it");
            }
        }
    }

    let mut variables = BTreeMap::new();
    for (var_name, var) in raw.variables {
        ids::validate_lower_snake(&var_name)
            .map_err(|e| invalid(format!("variable {var_name:?}: {e}")))?;
        let _ = &var.description;
        if var.required == var.default.is_some() {
            return Err(invalid(format!(
                "variable {var_name:?} must be `required` OR have a `default`"
            )));
        }
        variables.insert(
            var_name,
            AppVariable {
                default: var.default,
                secret: var.secret,
            },
        );
    }

    let mut raw_components = raw.component;
    let mut http_triggers = Vec::new();
    let mut inline_count = 0usize;
    let mut trigger_count = 0usize;
    for (trigger_type, entries) in raw.trigger {
        if trigger_type != "http" {
            return Err(invalid(format!(
                "trigger type {trigger_type:?} is not supported by this host (only `http`)"
            )));
        }
        for entry in entries {
            trigger_count += 1;
            let raw_trigger: RawHttpTrigger = toml::Value::Table(entry)
                .try_into()
                .map_err(|e| invalid(format!("[[trigger.http]] #{trigger_count}: {e}")))?;
            let trigger = build_trigger(
                raw_trigger,
                trigger_count,
                &mut inline_count,
                &mut raw_components,
            )?;
            http_triggers.push(trigger);
        }
    }
    if http_triggers.is_empty() {
        return Err(invalid("No triggers in app"));
    }

    let mut components = BTreeMap::new();
    for (id, component) in raw_components {
        let spec = build_component(&id, component, app_dir, &variables)?;
        components.insert(id, spec);
    }
    for trigger in &http_triggers {
        if let TriggerTarget::Component(id) = &trigger.target {
            if !components.contains_key(id) {
                return Err(invalid(format!(
                    "trigger {:?} refers to no such component {id:?}",
                    trigger.id
                )));
            }
        }
    }

    let schedule = crate::scheduler::parse(tool.as_ref(), |v| variables.contains_key(v))
        .map_err(ManifestError::Invalid)?;
    let redact_paths = redact_paths(tool.as_ref()).map_err(ManifestError::Invalid)?;
    Ok(AppManifest {
        redact_paths,
        app_dir: app_dir.to_path_buf(),
        name,
        version,
        variables,
        components,
        http_triggers,
        schedule,
    })
}

/// `[application.tool.spin-host] redact_paths`: absolute path prefixes.
fn redact_paths(tool: Option<&toml::Table>) -> Result<Vec<String>, String> {
    let Some(list) = tool
        .and_then(|t| t.get("spin-host"))
        .and_then(|t| t.get("redact_paths"))
    else {
        return Ok(Vec::new());
    };
    list.as_array()
        .ok_or("application.tool.spin-host.redact_paths must be an array of paths")?
        .iter()
        .map(|v| match v.as_str() {
            Some(p) if p.starts_with('/') => Ok(p.to_owned()),
            _ => Err(format!(
                "redact_paths entry {v} must be a path starting with /"
            )),
        })
        .collect()
}

fn build_trigger(
    raw: RawHttpTrigger,
    index: usize,
    inline_count: &mut usize,
    components: &mut BTreeMap<String, RawComponent>,
) -> Result<HttpTrigger, ManifestError> {
    let label = raw
        .id
        .clone()
        .unwrap_or_else(|| format!("[[trigger.http]] #{index}"));
    let route = match raw.route {
        None => return Err(invalid(format!("{label}: missing `route`"))),
        Some(RawRoute::Private { private: true }) => None,
        Some(RawRoute::Private { private: false }) => {
            return Err(invalid(format!(
                "{label}: `route = {{ private = false }}` is not allowed; give a route path instead"
            )))
        }
        Some(RawRoute::Path(path)) => Some(
            RoutePattern::parse(&path)
                .map_err(|e| invalid(format!("{label}: route {path:?}: {e}")))?,
        ),
    };
    match raw.executor {
        None | Some(RawExecutor::Http) | Some(RawExecutor::Spin) => {}
        Some(RawExecutor::Wagi { entrypoint, .. }) => {
            if entrypoint.as_deref().is_some_and(|e| e != "_start") {
                return Err(invalid(format!(
                    "{label}: Wagi `entrypoint` must be `_start`"
                )));
            }
            return Err(invalid(format!(
                "{label}: the Wagi executor is not supported by this host"
            )));
        }
    }
    let (target, generated_id) = match (raw.component, raw.static_response) {
        (Some(_), Some(_)) => {
            return Err(invalid(format!(
                "{label}: give either `component` or `static_response`, not both"
            )))
        }
        (None, None) => {
            return Err(invalid(format!(
                "{label}: needs a `component` or a `static_response`"
            )))
        }
        (Some(RawComponentRef::Id(id)), None) => {
            let generated = format!("{id}-http-trigger");
            (TriggerTarget::Component(id), generated)
        }
        (Some(RawComponentRef::Inline(component)), None) => {
            let id = match &raw.id {
                Some(trigger_id) => format!("{trigger_id}-component"),
                None => {
                    *inline_count += 1;
                    format!("inline-component{inline_count}")
                }
            };
            components.insert(id.clone(), *component);
            let generated = format!("{id}-http-trigger");
            (TriggerTarget::Component(id), generated)
        }
        (None, Some(response)) => (
            TriggerTarget::Static(StaticResponse {
                status: response.status_code.unwrap_or(200),
                headers: response.headers.into_iter().collect(),
                body: response.body.unwrap_or_default(),
            }),
            format!("http-trigger{index}"),
        ),
    };
    Ok(HttpTrigger {
        id: raw.id.unwrap_or(generated_id),
        route,
        target,
    })
}

fn build_component(
    id: &str,
    raw: RawComponent,
    app_dir: &Path,
    app_variables: &BTreeMap<String, AppVariable>,
) -> Result<ComponentSpec, ManifestError> {
    ids::validate_kebab(id).map_err(|e| invalid(format!("component id {id:?}: {e}")))?;
    let ctx = |msg: String| invalid(format!("component {id:?}: {msg}"));
    let _ = (&raw.description, &raw.ai_models, &raw.targets, &raw.tool);
    let _ = (&raw.dependencies_inherit_configuration, &raw.profile);

    let source = match raw.source {
        RawSource::Local(path) => app_dir.join(path),
        RawSource::Remote { url, digest } => {
            return Err(ctx(format!(
                "remote source {url} ({digest}) is not supported by this host; download it and use a local path"
            )))
        }
        RawSource::Registry {
            registry,
            package,
            version,
        } => {
            return Err(ctx(format!(
                "registry source {package}@{version} ({}) is not supported by this host",
                registry.unwrap_or_else(|| "default registry".into())
            )))
        }
    };
    if raw
        .dependencies
        .as_ref()
        .is_some_and(|deps| !deps.is_empty())
    {
        return Err(ctx(
            "component `dependencies` are not supported by this host".into(),
        ));
    }
    if let Some(build) = &raw.build {
        if build
            .workdir
            .as_deref()
            .is_some_and(|w| Path::new(w).is_absolute())
        {
            return Err(ctx("`build.workdir` must be a relative path".into()));
        }
    }

    let mut variables = BTreeMap::new();
    for (name, text) in raw.variables {
        ids::validate_lower_snake(&name).map_err(|e| ctx(format!("variable {name:?}: {e}")))?;
        let template =
            Template::parse(&text).map_err(|e| ctx(format!("variable {name:?}: {e}")))?;
        for reference in template.references() {
            if !app_variables.contains_key(reference) {
                return Err(ctx(format!(
                    "variable {name:?} refers to unknown variable {reference:?}"
                )));
            }
        }
        variables.insert(name, template);
    }

    for label in raw.key_value_stores.iter().chain(&raw.sqlite_databases) {
        ids::validate_label(label).map_err(|e| ctx(format!("store label {label:?}: {e}")))?;
    }

    let mut hosts = raw.allowed_outbound_hosts;
    if !raw.allowed_http_hosts.is_empty() {
        eprintln!(
            "warning: component {id:?}: `allowed_http_hosts` is deprecated; use `allowed_outbound_hosts`"
        );
        for host in raw.allowed_http_hosts {
            if host == "insecure:allow-all" {
                hosts.push("*://*:*".into());
            } else if host.contains("://") {
                hosts.push(host);
            } else {
                hosts.push(format!("https://{host}"));
            }
        }
    }
    AllowedHostsConfig::validate(&hosts, |name| {
        app_variables.get(name).map(|v| v.default.as_deref())
    })
    .map_err(|e| ctx(e.to_string()))?;

    if !raw.exclude_files.is_empty() {
        return Err(ctx(
            "`exclude_files` is not supported by this host; mount whole directories".into(),
        ));
    }
    let mut files = Vec::new();
    for mount in raw.files {
        files.push(file_mount(app_dir, mount).map_err(ctx)?);
    }

    Ok(ComponentSpec {
        id: id.to_string(),
        source,
        variables,
        environment: raw.environment,
        files,
        allowed_outbound_hosts: hosts,
        key_value_stores: raw.key_value_stores,
        sqlite_databases: raw.sqlite_databases,
    })
}

fn file_mount(app_dir: &Path, mount: RawFileMount) -> Result<FileMount, String> {
    let (source, destination) = match mount {
        RawFileMount::Pattern(pattern) => {
            if pattern.contains(['*', '?', '[']) {
                return Err(format!(
                    "file pattern {pattern:?}: globs are not supported by this host; name a directory"
                ));
            }
            let destination = format!("/{}", pattern.trim_start_matches("./"));
            (pattern, destination)
        }
        RawFileMount::Placement {
            source,
            destination,
        } => (source, destination),
    };
    if source.ends_with("..") || source.ends_with('.') && source != "." {
        return Err(format!(
            "file source {source:?} must not end in `.` or `..`"
        ));
    }
    if !destination.starts_with('/') {
        return Err(format!("file destination {destination:?} must be absolute"));
    }
    let host_path = app_dir.join(&source);
    if !host_path.is_dir() {
        return Err(format!(
            "file source {source:?} is not a directory (this host mounts directories only)"
        ));
    }
    Ok(FileMount {
        host_path,
        guest_path: destination,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AppManifest, ManifestError> {
        AppManifest::parse(text, Path::new("."))
    }

    const MINIMAL: &str = r#"
spin_manifest_version = 2
[application]
name = "app"
[[trigger.http]]
route = "/..."
component = "web"
[component.web]
source = "web.wasm"
"#;

    #[test]
    fn minimal_manifest_loads() {
        let app = parse(MINIMAL).expect("valid");
        assert_eq!(app.name, "app");
        assert_eq!(app.http_triggers[0].id, "web-http-trigger");
        assert!(app.components.contains_key("web"));
    }

    fn rejected(text: &str, needle: &str) {
        match parse(text) {
            Ok(_) => panic!("accepted a manifest that should be rejected ({needle})"),
            Err(e) => {
                let message = e.to_string();
                assert!(
                    message.contains(needle),
                    "{message:?} does not name {needle:?}"
                );
            }
        }
    }

    #[test]
    fn unknown_keys_are_rejected_and_named() {
        rejected(&format!("{MINIMAL}\nbogus = 1\n"), "bogus");
        rejected(
            &MINIMAL.replace("name = \"app\"", "name = \"app\"\ncolour = \"red\""),
            "colour",
        );
        rejected(
            &MINIMAL.replace("source = \"web.wasm\"", "source = \"web.wasm\"\nsauce = 1"),
            "sauce",
        );
        rejected(
            &MINIMAL.replace(
                "component = \"web\"",
                "component = \"web\"\nmethod = \"GET\"",
            ),
            "method",
        );
    }

    #[test]
    fn version_must_be_two() {
        rejected(&MINIMAL.replace("= 2", "= 3"), "spin_manifest_version");
    }

    #[test]
    fn component_ids_must_be_kebab_case() {
        rejected(&MINIMAL.replace("web", "Web_App"), "Web_App");
        rejected(&MINIMAL.replace("web", "9web"), "9web");
        assert!(parse(&MINIMAL.replace("web", "web-Api")).is_err());
        assert!(parse(&MINIMAL.replace("web", "web-API")).is_ok());
    }

    #[test]
    fn variables_need_exactly_one_of_required_or_default() {
        rejected(
            &format!("{MINIMAL}\n[variables]\nx = {{ required = true, default = \"1\" }}\n"),
            "\"x\"",
        );
        rejected(
            &format!("{MINIMAL}\n[variables]\nx = {{ secret = true }}\n"),
            "\"x\"",
        );
        assert!(parse(&format!(
            "{MINIMAL}\n[variables]\nx = {{ required = true }}\n"
        ))
        .is_ok());
        rejected(
            &format!("{MINIMAL}\n[variables]\nBad = {{ default = \"1\" }}\n"),
            "Bad",
        );
    }

    #[test]
    fn base_other_than_root_is_rejected() {
        let with_base = MINIMAL.replace(
            "name = \"app\"",
            "name = \"app\"\n[application.trigger.http]\nbase = \"/api\"",
        );
        rejected(&with_base, "base");
        let root = MINIMAL.replace(
            "name = \"app\"",
            "name = \"app\"\n[application.trigger.http]\nbase = \"/\"",
        );
        assert!(parse(&root).is_ok());
        let other = MINIMAL.replace(
            "name = \"app\"",
            "name = \"app\"\n[application.trigger.http]\nfoo = \"/\"",
        );
        rejected(&other, "foo");
    }

    #[test]
    fn trigger_rules() {
        rejected(&MINIMAL.replace("route = \"/...\"\n", ""), "route");
        rejected(
            &MINIMAL.replace("route = \"/...\"", "route = { private = false }"),
            "private",
        );
        rejected(
            &MINIMAL.replace("component = \"web\"", "component = \"nope\""),
            "nope",
        );
        rejected(
            &MINIMAL.replace(
                "component = \"web\"",
                "component = \"web\"\nstatic_response = { body = \"x\" }",
            ),
            "not both",
        );
        rejected(
            &MINIMAL.replace("route = \"/...\"", "route = \"/a/:\""),
            "route",
        );
        rejected(
            &MINIMAL.replace("route = \"/...\"", "route = \"/a/*x\""),
            "route",
        );
        rejected(
            &MINIMAL.replace(
                "component = \"web\"",
                "component = \"web\"\nexecutor = { type = \"wasip3-unstable\" }",
            ),
            "executor",
        );
        let private = parse(&MINIMAL.replace("route = \"/...\"", "route = { private = true }"))
            .expect("private ok");
        assert!(private.http_triggers[0].route.is_none());
    }

    #[test]
    fn inline_components_are_hoisted_with_spin_ids() {
        let text = r#"
spin_manifest_version = 2
[application]
name = "app"
[[trigger.http]]
id = "api"
route = "/api/..."
component = { source = "api.wasm" }
[[trigger.http]]
route = "/x"
component = { source = "x.wasm" }
"#;
        let app = parse(text).expect("valid");
        assert!(app.components.contains_key("api-component"));
        assert!(app.components.contains_key("inline-component1"));
    }

    #[test]
    fn variable_templates_must_name_app_variables() {
        let text = MINIMAL.replace(
            "source = \"web.wasm\"",
            "source = \"web.wasm\"\nvariables = { greeting = \"{{ missing }}\" }",
        );
        rejected(&text, "missing");
        let unmatched = MINIMAL.replace(
            "source = \"web.wasm\"",
            "source = \"web.wasm\"\nvariables = { greeting = \"{{ x\" }",
        );
        rejected(&unmatched, "greeting");
    }

    #[test]
    fn bad_outbound_hosts_are_rejected() {
        for bad in [
            "insecure:allow-all",
            "example.com",
            "https://example.com/path",
            "http://*example.com",
        ] {
            let text = MINIMAL.replace(
                "source = \"web.wasm\"",
                &format!("source = \"web.wasm\"\nallowed_outbound_hosts = [\"{bad}\"]"),
            );
            assert!(parse(&text).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn store_labels_must_be_kebab_or_snake() {
        let text = MINIMAL.replace(
            "source = \"web.wasm\"",
            "source = \"web.wasm\"\nkey_value_stores = [\"Bad Label\"]",
        );
        rejected(&text, "Bad Label");
    }

    #[test]
    fn no_triggers_is_rejected() {
        rejected(
            "spin_manifest_version = 2\n[application]\nname = \"a\"\n",
            "No triggers",
        );
    }
}
