#!/usr/bin/env bash
# Installs what vigil needs to build, test and run, from Debian 12 packages.
# Idempotent: does nothing when everything is already installed.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config     # toolchain
  clang-14 libclang-rt-14-dev libfuzzer-14-dev     # fuzz preset (libFuzzer, sanitizers)
  libhyperscan-dev                                 # engine: multi-literal matching in one pass
  libre2-dev                                       # linear-time regexes (verifier and engine)
  libyaml-cpp-dev                                  # Sigma rule YAML
  libsimdjson-dev                                  # replay event JSON
  nlohmann-json3-dev                               # diagnostics and inspect JSON output
  libsodium-dev                                    # BLAKE2b checksums/schema hash (ed25519 later)
  libfmt-dev libcli11-dev libexpected-dev          # formatting, command line, Result<T>
  libgtest-dev libbenchmark-dev                    # tests and benchmarks
  libbpf-dev bpftool libelf-dev zlib1g-dev         # eBPF source: libbpf, vmlinux.h and skeleton generation
  libtomlplusplus-dev                              # vigild's TOML config file (headers used header-only)
  libcpp-httplib-dev                               # vigild's Prometheus /metrics HTTP endpoint
  file                                             # cpack: finds the ELF files whose libraries the .deb depends on
  curl                                             # vigild live test: a curl | sh pipeline against a local file
)

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: run as root (apt-get needs it)" >&2
  exit 1
fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
