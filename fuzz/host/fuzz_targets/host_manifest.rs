//! The host's manifest (`spin.toml`) and runtime configuration parsers over
//! arbitrary text: a file is loaded or refused with a message at startup,
//! never a panic. Relative paths resolve under a folder that does not
//! exist, so nothing is read from disk.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use spin_host::manifest::AppManifest;
use spin_host::runtime_config::RuntimeConfig;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let dir = Path::new("/nonexistent/fuzz-app");
    let _ = AppManifest::parse(&text, dir);
    let _ = RuntimeConfig::parse(&text, dir);
});
