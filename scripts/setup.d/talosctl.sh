# shellcheck shell=bash
# Builds talosctl from the Go module proxy into $BIN (sourced by scripts/setup.sh: ROOT, TOOLS, BIN set).
# talosctl cannot be `go install`ed (its go.mod has replace directives, one relative: ./pkg/machinery),
# so the two modules are downloaded and assembled into one source tree, then built there.
# Fast when done: skipped if $BIN/talosctl already reports the pinned version; a binary built before
# on this machine is copied from ${XDG_CACHE_HOME:-~/.cache}/proxmox-manager.

TALOSCTL_VERSION=${TALOS_VERSION:-v1.13.0}

talosctl_version_ok() {
  [ -x "$1" ] && "$1" version --client 2>/dev/null | grep -Eq "Tag:[[:space:]]+${TALOSCTL_VERSION}\$"
}

install_talosctl() {
  local cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/proxmox-manager
  local cached=$cache_dir/talosctl-$TALOSCTL_VERSION
  if talosctl_version_ok "$BIN/talosctl"; then return; fi
  mkdir -p "$cache_dir"
  if talosctl_version_ok "$cached"; then
    log "talosctl $TALOSCTL_VERSION from the build cache ($cached)"
    install -m 0755 "$cached" "$BIN/talosctl"
    return
  fi
  command -v go >/dev/null 2>&1 || { log "talosctl needs Go (>= the go line of talos $TALOSCTL_VERSION) to build"; return 1; }

  log "building talosctl $TALOSCTL_VERSION from the Go module proxy (takes several minutes once)"
  local started=$SECONDS talos_dir machinery_dir src
  talos_dir=$(cd "$cache_dir" && GOWORK=off go mod download -json "github.com/siderolabs/talos@$TALOSCTL_VERSION" | talosctl_module_dir)
  machinery_dir=$(cd "$cache_dir" && GOWORK=off go mod download -json "github.com/siderolabs/talos/pkg/machinery@$TALOSCTL_VERSION" | talosctl_module_dir)
  rm -rf "$cache_dir"/talos-src.*   # left over by an interrupted build
  src=$(mktemp -d "$cache_dir/talos-src.XXXXXX")
  # The module cache is read-only: assemble a writable tree with machinery where the replace expects it.
  cp -R "$talos_dir/." "$src/"
  chmod -R u+w "$src"
  rm -rf "$src/pkg/machinery"
  cp -R "$machinery_dir" "$src/pkg/machinery"
  chmod -R u+w "$src/pkg/machinery"
  # The containerd fork talos replaces in (a dead-code-elimination fix that only shrinks the binary,
  # talos#11296) is not served by the Go module proxy; upstream containerd at the required version is.
  (cd "$src" && GOWORK=off go mod edit -dropreplace=github.com/containerd/containerd/v2)
  # Same flags as the upstream Dockerfile's talosctl target; the version tag is embedded in
  # pkg/machinery/gendata/data/tag, so no -X ldflags are needed for `version --client`.
  (cd "$src" && GOWORK=off CGO_ENABLED=0 go build -mod=mod -trimpath -tags grpcnotrace \
    -ldflags '-s -w' -o "$cache_dir/talosctl-$TALOSCTL_VERSION.tmp" ./cmd/talosctl)
  rm -rf "$src"
  mv "$cache_dir/talosctl-$TALOSCTL_VERSION.tmp" "$cached"
  talosctl_version_ok "$cached" || { log "built talosctl does not report $TALOSCTL_VERSION"; return 1; }
  install -m 0755 "$cached" "$BIN/talosctl"
  log "talosctl $TALOSCTL_VERSION built in $((SECONDS - started))s"
}

# Reads `go mod download -json` output, prints the module's source directory.
talosctl_module_dir() {
  node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const m=JSON.parse(s);if(m.Error){console.error(m.Error);process.exit(1)}console.log(m.Dir)})'
}

install_talosctl
