# shellcheck shell=bash
# Sourced by scripts/setup.sh (set -euo pipefail). Installs the Debian packages the tests need:
# a real sshd/ssh for the SSH side of the simulator (test/sim/ssh) and real pass + gpg for the
# credential tests (jq: the documented RBAC bootstrap pipes the token JSON through it). Fast no-op
# when everything is installed.

system_packages=(openssh-server openssh-client pass gnupg jq)

system_missing_packages() {
  local pkg
  for pkg in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || printf '%s\n' "$pkg"
  done
}

install_system_packages() {
  local missing
  mapfile -t missing < <(system_missing_packages)
  [ "${#missing[@]}" -eq 0 ] && return
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { log "missing packages ${missing[*]}: run as root or install them"; exit 1; }
    sudo=(sudo)
  fi
  log "apt-get installing ${missing[*]}"
  # Package scripts must not start a system-wide sshd on port 22: the tests start their own on
  # loopback. policy-rc.d (exit 101 = "action forbidden") is the Debian way to say so.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    created_policy=1
  fi
  local status=0
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || status=$?
  if [ "$status" -eq 0 ]; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null || status=$?
  fi
  [ "$created_policy" -eq 1 ] && "${sudo[@]}" rm -f "$policy"
  if [ "$status" -ne 0 ]; then log "apt-get failed (exit $status)"; exit "$status"; fi
}

install_system_packages
