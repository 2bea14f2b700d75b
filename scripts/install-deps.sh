#!/usr/bin/env bash
# Installs the Debian 12 packages that ivfstream builds and tests with. Idempotent: it only calls
# apt-get when a package is missing. Runs as root, or through sudo when available.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libcaf-dev                      # CAF 0.17.6 (actors, caf::io, caf::openssl)
  libssl-dev openssl              # peer-link TLS; the openssl tool makes the test certificates
  librdkafka-dev                  # librdkafka 2.0.2 (+ mock cluster)
  libflatbuffers-dev flatbuffers-compiler
  libeigen3-dev
  libdnnl-dev ocl-icd-opencl-dev  # oneDNN 2.6; its CMake config needs OpenCL headers
  libboost-test-dev
  libcli11-dev libtomlplusplus-dev
  kcat                            # independent Kafka client used by an end-to-end test
  zlib1g-dev                      # the demo reads Fashion-MNIST idx.gz files
  g++-aarch64-linux-gnu qemu-user # NEON kernels cross-built and run under qemu (neon_cross_test)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
# another process may hold the dpkg lock: wait and retry rather than fail
for attempt in 1 2 3 4 5 6 7 8 9 10; do
  if "${sudo_cmd[@]}" apt-get update -q && \
     DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    exit 0
  fi
  echo "install-deps: apt-get failed (attempt $attempt), retrying in 20 s" >&2
  sleep 20
done
exit 1
