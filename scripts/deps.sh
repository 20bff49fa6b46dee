#!/usr/bin/env bash
# Installs the Debian packages redscope needs to build, run and test, skipping
# those already present. Needs root and apt (Debian 12).
set -euo pipefail

build=(make clang llvm clang-format gcc pkg-config libbpf-dev bpftool libelf-dev zlib1g-dev
	libmicrohttpd-dev libpg-query-dev)
test=(curl nginx libnginx-mod-http-echo wrk python3 prometheus
	prometheus-alertmanager procps util-linux postgresql postgresql-contrib
	openssl)

want=("${build[@]}")
[ "${1:-}" = "--build-only" ] || want+=("${test[@]}")

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: ${missing[*]} (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Daemons from these packages must not start by themselves: tests start their own.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
