//! The wasmtime engine (pooling allocator, epoch interruption) and the
//! on-disk cache of compiled components.
//!
//! Compiling a component takes ~200 ms in a release build and seconds in a
//! debug build; loading a cached compilation takes under a millisecond. The
//! cache key covers the `.wasm` bytes and the engine's compatibility hash, so
//! a changed component, wasmtime version or engine setting recompiles.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; request deadlines are counted in ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of each pooled linear memory kept resident between instances.
const KEEP_RESIDENT_BYTES: usize = 2 << 20;
/// Decommits batched together (fewer `madvise` calls under load).
const DECOMMIT_BATCH: usize = 16;

/// Engine settings chosen on the command line.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Use the pooling allocator (much faster instantiation).
    pub pooling: bool,
    /// Most instances alive at once (pool size).
    pub max_instances: u32,
    /// Most linear memory one instance may use, in bytes.
    pub max_instance_memory: usize,
}

/// Builds the engine and starts the epoch ticker thread.
pub fn build_engine(options: &EngineOptions) -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    if options.pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(options.max_instances)
            .total_core_instances(options.max_instances * 4)
            .total_memories(options.max_instances * 2)
            .total_tables(options.max_instances * 4)
            .total_stacks(options.max_instances)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .max_memory_size(options.max_instance_memory)
            .max_component_instance_size(1 << 20)
            // Reset reused slots with memset instead of madvise: no page
            // faults (and TLB shootdowns) when the next request reuses them.
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(KEEP_RESIDENT_BYTES / 4)
            .decommit_batch_size(DECOMMIT_BATCH)
            .pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    let engine = Engine::new(&config).map_err(|e| anyhow!("cannot configure wasmtime: {e:?}"))?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        })
        .context("cannot start the epoch ticker")?;
    Ok(engine)
}

/// Where compiled components are kept between runs.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

impl ComponentCache {
    /// A cache in `dir`, or no cache at all.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    fn key(engine: &Engine, wasm: &[u8]) -> String {
        let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
        engine
            .precompile_compatibility_hash()
            .hash(&mut engine_hash);
        let digest = Sha256::digest(wasm);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("{hex}-{:016x}.cwasm", engine_hash.finish())
    }

    /// Loads the component at `path`, from the cache when possible; a cache
    /// miss compiles and stores the result (atomically, via rename).
    pub fn load(&self, engine: &Engine, path: &Path) -> Result<Component> {
        let wasm = std::fs::read(path)
            .with_context(|| format!("cannot read component {}", path.display()))?;
        let Some(dir) = &self.dir else {
            return Component::new(engine, &wasm)
                .map_err(|e| anyhow!("cannot compile {}: {e:?}", path.display()));
        };
        let cached = dir.join(Self::key(engine, &wasm));
        if cached.exists() {
            // SAFETY: the file was written by `precompile_component` of an
            // engine with the same compatibility hash (it is in the name), in
            // the host's own state directory.
            match unsafe { Component::deserialize_file(engine, &cached) } {
                Ok(component) => return Ok(component),
                Err(e) => eprintln!(
                    "warning: ignoring unreadable compiled cache {}: {e}",
                    cached.display()
                ),
            }
        }
        let compiled = engine
            .precompile_component(&wasm)
            .map_err(|e| anyhow!("cannot compile {}: {e:?}", path.display()))?;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create cache dir {}", dir.display()))?;
        let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &compiled)
            .and_then(|_| std::fs::rename(&tmp, &cached))
            .with_context(|| format!("cannot write {}", cached.display()))?;
        // SAFETY: produced just above by this engine.
        unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|e| anyhow!("cannot load compiled {}: {e:?}", path.display()))
    }
}
