//! The runtime configuration file (`--runtime-config-file`), in Spin's
//! format: state directory, key-value stores, SQLite databases and variable
//! providers. Unknown top-level keys are rejected as Spin rejects them.

use crate::outbound_rules::BlockedNetworks;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A key-value store definition (`[key_value_store.<label>]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum KeyValueStoreConfig {
    /// Spin's SQLite-backed store; a relative path resolves against the
    /// runtime-config file's directory.
    Spin {
        /// The database file; in-memory when absent.
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// A Redis server.
    Redis {
        /// For example `redis://127.0.0.1:6379`.
        url: String,
    },
}

/// A SQLite database definition (`[sqlite_database.<label>]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SqliteDatabaseConfig {
    /// A local file; a relative path resolves against the working directory,
    /// as in Spin.
    Spin {
        /// The database file; in-memory when absent.
        #[serde(default)]
        path: Option<PathBuf>,
        /// Accepted for compatibility; ATTACH stays the application's business.
        #[serde(default)]
        allow_attach_file: bool,
    },
}

/// A variables provider (`[[variables_provider]]`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum VariablesProviderConfig {
    /// Fixed values.
    Static {
        /// Values by variable name.
        values: HashMap<String, String>,
    },
    /// Environment variables with a prefix, and an optional dotenv file.
    Env {
        /// The prefix (default `SPIN_VARIABLE`).
        #[serde(default)]
        prefix: Option<String>,
        /// A dotenv file consulted when the environment lacks a value.
        #[serde(default)]
        dotenv_path: Option<PathBuf>,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundHttpConfig {
    #[serde(default)]
    connection_pooling: Option<bool>,
    #[serde(default)]
    #[allow(dead_code)]
    max_concurrent_requests: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundNetworkingConfig {
    #[serde(default)]
    block_networks: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
struct RawRuntimeConfig {
    #[serde(default)]
    state_dir: Option<String>,
    #[serde(default)]
    log_dir: Option<String>,
    #[serde(default)]
    key_value_store: BTreeMap<String, KeyValueStoreConfig>,
    #[serde(default)]
    sqlite_database: BTreeMap<String, SqliteDatabaseConfig>,
    #[serde(default)]
    variables_provider: Vec<VariablesProviderConfig>,
    #[serde(default)]
    config_provider: Vec<VariablesProviderConfig>,
    #[serde(default)]
    outbound_http: Option<OutboundHttpConfig>,
    #[serde(default)]
    outbound_networking: Option<OutboundNetworkingConfig>,
}

const KNOWN_KEYS: &[&str] = &[
    "state_dir",
    "log_dir",
    "key_value_store",
    "sqlite_database",
    "variables_provider",
    "config_provider",
    "outbound_http",
    "outbound_networking",
];

/// A loaded runtime configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// `state_dir`: `Some("")` means explicitly unset (everything in memory).
    pub state_dir: Option<String>,
    /// Key-value stores by label, paths resolved.
    pub key_value_stores: BTreeMap<String, KeyValueStoreConfig>,
    /// SQLite databases by label.
    pub sqlite_databases: BTreeMap<String, SqliteDatabaseConfig>,
    /// Variable providers in file order.
    pub variables_providers: Vec<VariablesProviderConfig>,
    /// Outbound HTTP opens a connection per request instead of pooling.
    /// As in Spin, pooling is on without an `[outbound_http]` table and off
    /// when the table is present without `connection_pooling = true`.
    pub connection_pooling_disabled: bool,
    /// `[outbound_networking] block_networks`: networks outbound requests
    /// may not reach, checked after DNS resolution (parsed at load).
    pub block_networks: BlockedNetworks,
}

impl RuntimeConfig {
    /// Reads and validates a runtime-config file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read runtime config {}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base).map_err(|e| format!("runtime config {}: {e}", path.display()))
    }

    /// Parses runtime-config text; `base` is the file's directory.
    pub fn parse(text: &str, base: &Path) -> Result<Self, String> {
        let table: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
        let unused: Vec<&str> = table
            .keys()
            .map(String::as_str)
            .filter(|k| !KNOWN_KEYS.contains(k))
            .collect();
        if !unused.is_empty() {
            return Err(format!(
                "unused runtime config key(s): {}",
                unused.join(", ")
            ));
        }
        let raw: RawRuntimeConfig = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| e.to_string())?;
        let _ = raw.log_dir;
        let key_value_stores = raw
            .key_value_store
            .into_iter()
            .map(|(label, config)| {
                let config = match config {
                    KeyValueStoreConfig::Spin { path: Some(p) } if p.is_relative() => {
                        KeyValueStoreConfig::Spin {
                            path: Some(base.join(p)),
                        }
                    }
                    other => other,
                };
                (label, config)
            })
            .collect();
        let mut variables_providers = raw.variables_provider;
        variables_providers.extend(raw.config_provider);
        let connection_pooling_disabled = raw
            .outbound_http
            .is_some_and(|o| o.connection_pooling != Some(true));
        let block_networks = BlockedNetworks::parse(
            &raw.outbound_networking
                .map(|o| o.block_networks)
                .unwrap_or_default(),
        )?;
        Ok(Self {
            block_networks,
            connection_pooling_disabled,
            state_dir: raw.state_dir,
            key_value_stores,
            sqlite_databases: raw.sqlite_database,
            variables_providers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stores_and_providers() {
        let text = r#"
[key_value_store.default]
type = "redis"
url = "redis://127.0.0.1:6379"
[key_value_store.cache]
type = "spin"
path = "cache.db"
[sqlite_database.analytics]
type = "spin"
path = "analytics.db"
[[variables_provider]]
type = "static"
values = { greeting = "hello" }
"#;
        let config = RuntimeConfig::parse(text, Path::new("/etc/app")).expect("valid");
        assert_eq!(
            config.key_value_stores["cache"],
            KeyValueStoreConfig::Spin {
                path: Some(PathBuf::from("/etc/app/cache.db"))
            }
        );
        assert!(matches!(
            config.key_value_stores["default"],
            KeyValueStoreConfig::Redis { .. }
        ));
        assert_eq!(config.variables_providers.len(), 1);
        assert!(config.sqlite_databases.contains_key("analytics"));
    }

    #[test]
    fn block_networks_are_validated_at_load() {
        let parse = |text: &str| RuntimeConfig::parse(text, Path::new("."));
        let ok = parse("[outbound_networking]\nblock_networks = [\"private\", \"1.2.3.0/24\"]")
            .expect("valid");
        assert!(ok.block_networks.private);
        assert!(ok.block_networks.blocks("1.2.3.4".parse().expect("ip")));
        assert!(parse("[outbound_networking]\nblock_networks = [\"intranet\"]").is_err());
    }

    #[test]
    fn connection_pooling_defaults_as_in_spin() {
        let parse = |text: &str| RuntimeConfig::parse(text, Path::new(".")).expect("valid");
        assert!(!parse("").connection_pooling_disabled);
        assert!(parse("[outbound_http]").connection_pooling_disabled);
        assert!(parse("[outbound_http]\nconnection_pooling = false").connection_pooling_disabled);
        assert!(!parse("[outbound_http]\nconnection_pooling = true").connection_pooling_disabled);
    }

    #[test]
    fn rejects_unknown_keys_and_types() {
        let err = RuntimeConfig::parse("colour = 1", Path::new(".")).unwrap_err();
        assert!(
            err.contains("unused runtime config key(s): colour"),
            "{err}"
        );
        assert!(
            RuntimeConfig::parse("[key_value_store.x]\ntype = \"azure\"", Path::new(".")).is_err()
        );
        assert!(RuntimeConfig::parse(
            "[sqlite_database.x]\ntype = \"libsql\"\nurl = \"x\"",
            Path::new(".")
        )
        .is_err());
    }
}
