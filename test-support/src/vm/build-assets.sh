#!/usr/bin/env bash
# Builds what the VM boot tests load: a Debian kernel and a busybox initrd whose /init prints a
# marker with the kernel command line and powers off. Both are cached in OUT and rebuilt only
# when missing, so a test run downloads the kernel once per machine.
# Usage: build-assets.sh [OUT]   (default /var/cache/netboot-test)
set -euo pipefail

out=${1:-/var/cache/netboot-test}
mkdir -p "$out"
# Tests run in parallel threads and binaries; one builder at a time, the others wait and reuse.
exec 9>"$out/.lock"
flock 9

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ ! -s $out/vmlinuz ]]; then
    # linux-image-amd64 is a metapackage; the kernel lives in the versioned package it depends on.
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
    [[ -n $pkg ]] || { echo "build-assets: no linux-image package behind linux-image-amd64" >&2; exit 1; }
    (cd "$work" && apt-get download -q "$pkg" >&2)
    dpkg-deb -x "$work"/"$pkg"_*.deb "$work/kernel"
    cp "$work"/kernel/boot/vmlinuz-* "$out/vmlinuz.part"
    mv "$out/vmlinuz.part" "$out/vmlinuz"
fi

if [[ ! -s $out/initrd.img ]]; then
    busybox=/bin/busybox
    # The static build is required: the initrd has no libc.
    file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || ldd "$busybox" 2>&1 | grep -q 'not a dynamic' \
        || { echo "build-assets: $busybox is not static (install busybox-static)" >&2; exit 1; }
    root=$work/initrd
    mkdir -p "$root"/{bin,dev,proc,sys}
    cp "$busybox" "$root/bin/busybox"
    # The kernel opens /dev/console for init's stdout before anything is mounted.
    mknod -m 600 "$root/dev/console" c 5 1
    cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
# Keep kernel messages from splitting the marker line on the serial console.
echo 1 >/proc/sys/kernel/printk
echo
echo "NETBOOT-E2E-OK cmdline=$(/bin/busybox cat /proc/cmdline)"
/bin/busybox sync
/bin/busybox poweroff -f
INIT
    chmod 755 "$root/init"
    (cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -9) >"$out/initrd.img.part"
    mv "$out/initrd.img.part" "$out/initrd.img"
fi

echo "$out/vmlinuz"
echo "$out/initrd.img"
