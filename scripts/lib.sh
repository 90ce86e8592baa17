# Shared by scripts/up, scripts/test and scripts/bench: toolchain checks and builds.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

ensure_wasm_target() {
  if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    log "adding the wasm32-wasip2 Rust target"
    rustup target add wasm32-wasip2
  fi
}

# apt_install PROGRAM PACKAGE: installs PACKAGE from Debian if PROGRAM is missing.
apt_install() {
  if ! command -v "$1" >/dev/null 2>&1; then
    log "installing $2 from Debian"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$2" >/dev/null
  fi
}

# Cargo package names of every component crate under functions/.
component_packages() {
  for manifest in functions/*/Cargo.toml; do
    [ -f "$manifest" ] || continue
    sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1
  done
}

# Builds the app's components (and, with "fixtures", the host test fixtures).
build_components() {
  ensure_wasm_target
  local args=()
  for pkg in $(component_packages); do args+=(-p "$pkg"); done
  if [ "${1:-}" = "fixtures" ]; then args+=(-p fixture-app); fi
  log "building components (wasm32-wasip2, release)"
  cargo build --locked --release --target wasm32-wasip2 "${args[@]}"
}

build_host() {
  log "building the host (release)"
  cargo build --locked --release -p spin-host
}
