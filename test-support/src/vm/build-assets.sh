#!/usr/bin/env bash
# Builds what the VM boot tests load: a Debian kernel; a busybox initrd whose /init prints a
# marker with the kernel command line and powers off; and an install initrd, the stand-in for
# an installer, whose /init brings the NIC up with DHCP, calls the `done=URL` of its command
# line with busybox wget, prints a marker and powers off. All are cached in OUT and rebuilt only
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

# The kernel package, extracted once per run into $work/kernel when something needs it.
kernel_package() {
    [[ -d $work/kernel ]] && return
    # linux-image-amd64 is a metapackage; the kernel lives in the versioned package it depends on.
    pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
    [[ -n $pkg ]] || { echo "build-assets: no linux-image package behind linux-image-amd64" >&2; exit 1; }
    (cd "$work" && apt-get download -q "$pkg" >&2)
    dpkg-deb -x "$work"/"$pkg"_*.deb "$work/kernel"
}

install_kernel() {
    cp "$work"/kernel/boot/vmlinuz-* "$out/vmlinuz.part"
    mv "$out/vmlinuz.part" "$out/vmlinuz"
}

if [[ ! -s $out/vmlinuz ]]; then
    kernel_package
    install_kernel
fi

busybox=/bin/busybox
# The static build is required: the initrds have no libc.
static_busybox() {
    file -L "$busybox" 2>/dev/null | grep -q 'statically linked' || ldd "$busybox" 2>&1 | grep -q 'not a dynamic' \
        || { echo "build-assets: $busybox is not static (install busybox-static)" >&2; exit 1; }
}

if [[ ! -s $out/initrd.img ]]; then
    static_busybox
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

if [[ ! -s $out/install-initrd.img ]]; then
    kernel_package
    # A module loads only into the kernel build it came from: if the archive moved on since
    # vmlinuz was cached, take the kernel from the same package as the modules.
    cmp -s "$work"/kernel/boot/vmlinuz-* "$out/vmlinuz" || install_kernel
    moddir=$(echo "$work"/kernel/lib/modules/*)
    root=$work/install-initrd
    mkdir -p "$root"/{bin,dev,proc,sys,modules,usr/share/udhcpc}
    static_busybox
    cp "$busybox" "$root/bin/busybox"
    mknod -m 600 "$root/dev/console" c 5 1

    # Debian builds the virtio NIC as modules: copy virtio_net and virtio_pci and everything
    # they depend on (the `depends=` of their .modinfo), in load order, uncompressed (busybox
    # insmod hands the file to the kernel as it is).
    order=()
    add_module() {
        local name=$1 file dep
        [[ " ${order[*]} " == *" $name "* ]] && return
        grep -qE "/$name\.ko$" "$moddir/modules.builtin" && return
        file=$(find "$moddir/kernel" -name "$name.ko" -o -name "$name.ko.xz" -o -name "$name.ko.zst" | head -n 1)
        [[ -n $file ]] || { echo "build-assets: no module $name in the kernel package" >&2; exit 1; }
        case $file in
            *.xz) xz -dc "$file" >"$root/modules/$name.ko" ;;
            *.zst) zstd -qdc "$file" >"$root/modules/$name.ko" ;;
            *) cp "$file" "$root/modules/$name.ko" ;;
        esac
        for dep in $(tr '\0' '\n' <"$root/modules/$name.ko" | sed -n 's/^depends=//p' | tr ',' ' '); do
            add_module "$dep"
        done
        order+=("$name")
    }
    add_module virtio_pci
    add_module virtio_net
    printf '%s\n' "${order[@]}" >"$root/modules/order"

    # udhcpc runs this on each lease event; only the address matters on the lab's one LAN.
    cat >"$root/usr/share/udhcpc/default.script" <<'SCRIPT'
#!/bin/busybox sh
case "$1" in
    deconfig) /bin/busybox ip addr flush dev "$interface" ;;
    bound|renew) /bin/busybox ip addr add "$ip/$mask" dev "$interface" ;;
esac
SCRIPT
    chmod 755 "$root/usr/share/udhcpc/default.script"

    cat >"$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo 1 >/proc/sys/kernel/printk
echo
finish() {
    echo "$1"
    sync
    poweroff -f
}
url=
for word in $(cat /proc/cmdline); do
    case $word in done=*) url=${word#done=} ;; esac
done
[ -n "$url" ] || finish "NETBOOT-INSTALL-FAILED: no done= on the command line"
for m in $(cat /modules/order); do insmod "/modules/$m.ko" || finish "NETBOOT-INSTALL-FAILED: insmod $m"; done
n=0
while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 50 ]; do sleep 0.2; n=$((n + 1)); done
ip link set eth0 up || finish "NETBOOT-INSTALL-FAILED: no eth0"
# -n: give up without a lease; -q: exit once configured.
udhcpc -i eth0 -n -q -t 10 -T 2 -s /usr/share/udhcpc/default.script || finish "NETBOOT-INSTALL-FAILED: no DHCP lease"
answer=$(wget -q -O - "$url") || finish "NETBOOT-INSTALL-FAILED: wget $url"
echo "install report answered: $answer"
finish "NETBOOT-INSTALL-DONE"
INIT
    chmod 755 "$root/init"
    (cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -9) >"$out/install-initrd.img.part"
    mv "$out/install-initrd.img.part" "$out/install-initrd.img"
fi

echo "$out/vmlinuz"
echo "$out/initrd.img"
echo "$out/install-initrd.img"
