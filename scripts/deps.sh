#!/bin/bash
# Install the Debian packages that building and testing cryo need, if any is missing.
#   bash scripts/deps.sh [EXTRA-PACKAGE...]
# Quick (no apt at all) when everything is installed already. Extra packages can also be
# given in CRYO_EXTRA_PACKAGES. Used by demo.sh, test.sh and .ci/run.
set -u

PACKAGES=(
	build-essential     # gcc, make, libc headers
	protobuf-c-compiler # protoc-c: generates the image format's C code from images/cryo.proto
	libprotobuf-c-dev   # libprotobuf-c: encodes and decodes the images
	libmnl-dev          # libmnl: netlink (sock_diag: what the kernel says of sockets)
	libgnutls28-dev     # GnuTLS: --tls between dump and page-server
	liblz4-dev          # LZ4: --compress of page images
	gnutls-bin          # certtool: the TLS tests make their certificates with it
	pkg-config
	libnftables-dev     # libnftables: the network lock (src/net/netlock.c) of TCP connections
	libnftnl-dev        # libnftnl: ... its set elements, binary (src/net/netlock_elems.c)
	nftables            # nft: the tests look at the lock's table
	clang               # the fuzz targets (make fuzz, tests/cases/fuzz.sh): libFuzzer needs clang
	libclang-rt-dev     # ... and its runtime (libFuzzer, ASan, UBSan), only recommended by clang
	libbpf1             # libbpf, opened at run time: the buffers of a unix stream's queue (files/unix_skb.c)
)
# shellcheck disable=SC2206 # a list of words
PACKAGES+=("$@" ${CRYO_EXTRA_PACKAGES:-})

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
	echo "deps: missing packages (${missing[*]}) and no apt-get here: install them by hand" >&2
	exit 1
fi
SUDO=
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null; then
		SUDO=sudo
	else
		echo "deps: missing packages (${missing[*]}): run as root to install them" >&2
		exit 1
	fi
fi

echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
LOG=$(mktemp /tmp/cryo-deps.XXXXXX)
apt_install() {
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o DPkg::Lock::Timeout=300 "${missing[@]}" >>"$LOG" 2>&1
}
# the package lists may be missing or stale (fresh containers have none): update and retry
if ! apt_install; then
	$SUDO apt-get update -q -o DPkg::Lock::Timeout=300 >>"$LOG" 2>&1
	if ! apt_install; then
		tail -n 30 "$LOG" >&2
		echo "deps: apt-get install ${missing[*]} failed (log: $LOG)" >&2
		exit 1
	fi
fi
rm -f "$LOG"
for p in "${missing[@]}"; do
	if ! installed "$p"; then
		echo "deps: $p is still not installed" >&2
		exit 1
	fi
done
echo "deps: done" >&2
