//! Application variables and `fermyon:spin/variables@2.0.0`.
//!
//! An application variable is resolved by the first source that has it, in
//! Spin's order: `--variable`, runtime-config providers (static values, then
//! prefixed environment), `SPIN_VARIABLE_<NAME>` (falling back to a `.env`
//! file in the working directory), and finally the manifest default.
//! Components read their own variables, whose templates name app variables.
//!
//! As a Spin factor does, this module defines its own per-request data
//! ([`ComponentVariables`]) and the view the host function runs on
//! ([`VariablesView`]), and registers itself with [`add_to_linker`] given a
//! getter from the embedder's store data; it never names that store data.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::ids;
pub use crate::manifest::AppVariable;
use crate::template::Template;
use bindings::fermyon::spin::variables::{self as wit, Error};

/// Host bindings of `fermyon:spin/variables`.
mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "spin-host:platform/variables",
        require_store_data_send: true,
    });
}

/// Where a variable value may come from, other than the manifest default.
#[derive(Debug, Clone)]
pub enum VariableSource {
    /// Fixed values (`--variable` or a runtime-config `static` provider).
    Static(HashMap<String, String>),
    /// Environment variables `<PREFIX>_<UPPERCASED NAME>`, with an optional
    /// dotenv file consulted when the environment lacks one.
    Environment {
        /// The prefix, `SPIN_VARIABLE` for the built-in provider.
        prefix: String,
        /// Values read from the dotenv file at startup.
        dotenv: HashMap<String, String>,
    },
}

impl VariableSource {
    fn lookup(&self, name: &str) -> Option<String> {
        match self {
            VariableSource::Static(values) => values.get(name).cloned(),
            VariableSource::Environment { prefix, dotenv } => {
                let key = format!("{prefix}_{}", name.to_ascii_uppercase());
                std::env::var(&key)
                    .ok()
                    .or_else(|| dotenv.get(&key).cloned())
            }
        }
    }
}

/// Reads a dotenv file: `KEY=value` lines, `#` comments, optional quotes.
pub fn read_dotenv(path: &std::path::Path) -> HashMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((key.trim().to_string(), value.to_string()))
        })
        .collect()
}

/// Resolves application variables.
#[derive(Debug)]
pub struct VariableResolver {
    declared: BTreeMap<String, AppVariable>,
    sources: Vec<VariableSource>,
}

impl VariableResolver {
    /// A resolver over `declared` variables, consulting `sources` in order.
    pub fn new(declared: BTreeMap<String, AppVariable>, sources: Vec<VariableSource>) -> Self {
        Self { declared, sources }
    }

    /// The value of an application variable.
    pub fn resolve(&self, name: &str) -> Result<String, String> {
        let declared = self
            .declared
            .get(name)
            .ok_or_else(|| format!("no application variable {name:?}"))?;
        self.sources
            .iter()
            .find_map(|s| s.lookup(name))
            .or_else(|| declared.default.clone())
            .ok_or_else(|| format!("no provider resolved required variable {name:?}"))
    }

    /// Fails with every required variable that nothing can resolve.
    pub fn check_required(&self) -> Result<(), String> {
        let missing: Vec<&str> = self
            .declared
            .keys()
            .filter(|name| self.resolve(name).is_err())
            .map(String::as_str)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "no provider resolved required variable(s): {}; set SPIN_VARIABLE_{} or pass --variable {}=...",
                missing.join(", "),
                missing[0].to_ascii_uppercase(),
                missing[0]
            ))
        }
    }
}

/// One component's variables.
#[derive(Debug)]
pub struct ComponentVariables {
    /// The component id, for error messages.
    pub component: String,
    /// Variable templates by component variable name.
    pub templates: BTreeMap<String, Template>,
    /// The app's resolver.
    pub resolver: Arc<VariableResolver>,
}

impl ComponentVariables {
    /// The value of one of the component's variables.
    pub fn get(&self, name: &str) -> Result<String, Error> {
        if ids::validate_lower_snake(name).is_err() {
            return Err(Error::InvalidName(format!(
                "invalid variable name {name:?}"
            )));
        }
        let template = self.templates.get(name).ok_or_else(|| {
            Error::Undefined(format!("no variable for {:?}.{name:?}", self.component))
        })?;
        template
            .render(|app_var| self.resolver.resolve(app_var))
            .map_err(Error::Provider)
    }
}

/// What the variables host function sees of one request: the component's
/// variables.
pub struct VariablesView<'a>(pub &'a ComponentVariables);

/// [`HasData`] marker binding `fermyon:spin/variables` to a [`VariablesView`].
struct VariablesHost;

impl HasData for VariablesHost {
    type Data<'a> = VariablesView<'a>;
}

/// Adds `fermyon:spin/variables` to `linker`; `view` lends each host call
/// the [`VariablesView`] of the store data it runs on.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> VariablesView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, VariablesHost>(linker, view)
}

impl wit::Host for VariablesView<'_> {
    fn get(&mut self, name: String) -> Result<String, Error> {
        self.0.get(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> BTreeMap<String, AppVariable> {
        let mut vars = BTreeMap::new();
        vars.insert(
            "greeting".into(),
            AppVariable {
                default: Some("hi".into()),
                secret: false,
            },
        );
        vars.insert(
            "token".into(),
            AppVariable {
                default: None,
                secret: true,
            },
        );
        vars
    }

    #[test]
    fn sources_in_order_then_default() {
        let cli =
            VariableSource::Static(HashMap::from([("greeting".to_string(), "cli".to_string())]));
        let resolver = VariableResolver::new(declared(), vec![cli]);
        assert_eq!(resolver.resolve("greeting").as_deref(), Ok("cli"));
        assert!(resolver.resolve("token").is_err());
        assert!(resolver.check_required().unwrap_err().contains("token"));
        let resolver = VariableResolver::new(declared(), vec![]);
        assert_eq!(resolver.resolve("greeting").as_deref(), Ok("hi"));
    }

    #[test]
    fn dotenv_fills_in_for_the_environment() {
        let source = VariableSource::Environment {
            prefix: "SPIN_HOST_TEST_NEVER_SET".into(),
            dotenv: HashMap::from([(
                "SPIN_HOST_TEST_NEVER_SET_TOKEN".to_string(),
                "dot".to_string(),
            )]),
        };
        let resolver = VariableResolver::new(declared(), vec![source]);
        assert_eq!(resolver.resolve("token").as_deref(), Ok("dot"));
        assert!(resolver.check_required().is_ok());
    }

    #[test]
    fn component_variables_errors() {
        let resolver = Arc::new(VariableResolver::new(declared(), vec![]));
        let vars = ComponentVariables {
            component: "web".into(),
            templates: BTreeMap::from([(
                "msg".to_string(),
                Template::parse("{{ greeting }}!").expect("t"),
            )]),
            resolver,
        };
        assert_eq!(vars.get("msg").ok().as_deref(), Some("hi!"));
        assert!(matches!(vars.get("Nope"), Err(Error::InvalidName(_))));
        assert!(matches!(vars.get("nope"), Err(Error::Undefined(_))));
    }
}
