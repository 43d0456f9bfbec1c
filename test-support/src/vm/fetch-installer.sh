#!/usr/bin/env bash
# Fetches Debian's network installer (signed kernel `linux` and `initrd.gz`, text frontend) for
# the Secure Boot VM test, from debian-installer-12-netboot-amd64 (~40 MB download), into
# OUT/d-i/. Nothing is installed; the files are fetched once per machine and reused.
# Usage: fetch-installer.sh [OUT]   (default /var/cache/netboot-test)
set -euo pipefail

out=${1:-/var/cache/netboot-test}
mkdir -p "$out"
# The same lock as build-assets.sh: one builder of the cache at a time.
exec 9>"$out/.lock"
flock 9

if [[ ! -s $out/d-i/linux || ! -s $out/d-i/initrd.gz ]]; then
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    pkg=debian-installer-12-netboot-amd64
    (cd "$work" && apt-get download -q "$pkg" >&2)
    dpkg-deb -x "$work"/"$pkg"_*.deb "$work/x"
    # The text installer: the gtk one's initrd is twice the size, and serial shows text only.
    src=$(find "$work/x" -path '*/text/debian-installer/amd64' -type d | head -n 1)
    [[ -n $src && -s $src/linux && -s $src/initrd.gz ]] \
        || { echo "fetch-installer: no text/debian-installer/amd64/{linux,initrd.gz} in $pkg" >&2; exit 1; }
    mkdir -p "$out/d-i"
    # Kernel and initrd come from the same package version: replace both, each atomically.
    for f in linux initrd.gz; do
        cp "$src/$f" "$out/d-i/$f.part"
        mv "$out/d-i/$f.part" "$out/d-i/$f"
    done
fi

echo "$out/d-i/linux"
echo "$out/d-i/initrd.gz"
