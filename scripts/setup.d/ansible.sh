# Sourced by scripts/setup.sh (set -euo pipefail; ROOT, TOOLS, BIN, log available).
# Ansible, ansible-lint and the community.proxmox/general + ansible.posix collections (bundled in the
# pinned `ansible` package) plus proxmoxer/requests in a venv at .tools/venv; debootstrap for the
# role tests. A stamp of the pin files makes reruns a no-op.

ansible_setup() {
  # Physical path: the venv's scripts carry it in their shebangs, and .tools may be a symlink.
  local venv; venv=$(cd "$TOOLS" && pwd -P)/venv
  local req=$ROOT/ansible/requirements.txt con=$ROOT/ansible/constraints.txt
  local want; want=$(cat "$req" "$con" | sha256sum | cut -d' ' -f1)
  if [ ! -x "$venv/bin/ansible-playbook" ] || [ "$(cat "$venv/.pins" 2>/dev/null)" != "$want" ]; then
    log "installing Ansible into .tools/venv ($(grep -E '^ansible(-core|-lint)?==' "$req" | tr '\n' ' '))"
    [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input -r "$req" -c "$con"
    echo "$want" > "$venv/.pins"
  fi
  local tool
  for tool in ansible ansible-playbook ansible-inventory ansible-lint ansible-doc ansible-config; do
    ln -sfn ../venv/bin/$tool "$BIN/$tool"
  done

  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap (apt)"
    local sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq debootstrap >/dev/null
  fi
}

ansible_setup
