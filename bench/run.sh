#!/usr/bin/env bash
# The netboot performance suite: netboot against dnsmasq, tftpd-hpa and nginx, all on loopback,
# measured by the same clients (bench/src, crate netboot-bench) in the same run.
#
# Usage: bash bench/run.sh [--smoke] [--peers-only] [--no-build] [--only N,..] [--out DIR]
#   --smoke       tiny sizes, one repetition, debug build: checks the suite itself (CI), < 1 min
#   --peers-only  measure the peers only (no netboot build or serve)
#   --no-build    use the binaries already in $CARGO_TARGET_DIR (default ./target)
#   --only N,..   run only these numbered sections (0-7 below; --only 7 is the boot storm)
#   --out DIR     where results.jsonl, table.md, machine.txt and the servers' logs go
#                 (default /tmp/netboot-bench-out)
# Boot storm (section 7) overrides, from the environment: STORM_N="100 500" (UEFI machines per
# run), STORM_BIOS_N="100", STORM_SPREAD_MS=0 (start spread), STORM_SPREAD_LATER_MS="10000"
# (extra runs of the first UEFI size started over that many ms, once as placed by the kernel
# and once with servers and machines on separate cores), STORM_REPS=5, STORM_SPREAD_REPS=3
# (repetitions of the storms started at once and over time). Set a list to
# the empty string to skip those runs (STORM_N= STORM_SPREAD_LATER_MS= runs BIOS only).
# Needs root (apt-get, port 69 for dnsmasq's TFTP, SO_RCVBUFFORCE). Sends traffic to 127.0.0.0/8 only.
# Prints the markdown table of medians and netboot/peer ratios; BENCHMARKS.md explains it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SMOKE=0
PEERS_ONLY=0
BUILD=1
ONLY=""
OUT=/tmp/netboot-bench-out
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SMOKE=1 ;;
        --peers-only) PEERS_ONLY=1 ;;
        --no-build) BUILD=0 ;;
        --only) ONLY=",$2,"; shift ;;
        --out) OUT=$2; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

# Loopback ports; dnsmasq's TFTP port is fixed at 69, so it gets an address of its own.
NB_HTTP=18080 NB_TFTP=16969 NB_DHCP=10067 NB_PXE=14011
NGINX_PORT=18081 HPA_PORT=16970 DNSMASQ_TFTP_ADDR=127.0.0.2 DNSMASQ_DHCP=10167 DHCP_CLIENT=10068

if [ "$SMOKE" = 1 ]; then
    T1=$((1 << 20)) T2=$((256 << 10)) T2N=8 H1=$((4 << 20)) H2=$((1 << 20)) H2N=10
    REPS=1 CREPS=1 WRK_S=1 DHCP_N=300 FLEET_N=500 PROFILE=dev
    STORM_KERNEL=$((1 << 20)) STORM_INITRD=$((2 << 20)) STORM_TIMEOUT_S=20
    STORM_N=${STORM_N-8} STORM_BIOS_N=${STORM_BIOS_N-4} STORM_SPREAD_LATER_MS=${STORM_SPREAD_LATER_MS-500}
else
    T1=$((32 << 20)) T2=$((8 << 20)) T2N=64 H1=$((256 << 20)) H2=$((64 << 20)) H2N=100
    REPS=5 CREPS=3 WRK_S=5 DHCP_N=20000 FLEET_N=10000 PROFILE=release
    STORM_KERNEL=$((8 << 20)) STORM_INITRD=$((40 << 20)) STORM_TIMEOUT_S=600
    STORM_N=${STORM_N-100 500} STORM_BIOS_N=${STORM_BIOS_N-100}
    STORM_SPREAD_LATER_MS=${STORM_SPREAD_LATER_MS-10000}
fi
STORM_SPREAD_MS=${STORM_SPREAD_MS:-0}
# A storm's time varies more from one repetition to the next than a single transfer's: netboot's
# UEFI 100 went from 1.30 to 1.64 s over seven in one run, and medians of three from two runs an
# hour apart were 0.65x and 0.74x the peers'. So five; a storm started over 10 s keeps three
# (each is 10 s per stack, and its per-machine times are a hundred samples already).
STORM_REPS=${STORM_REPS:-$REPS}
STORM_SPREAD_REPS=${STORM_SPREAD_REPS:-$CREPS}

say() { printf '\n== %s\n' "$*" >&2; }
want() { [ -z "$ONLY" ] || [[ $ONLY == *",$1,"* ]]; } # is section $1 to run?

# --- packages: installed without starting their system services -----------------------------
need=()
command -v dnsmasq >/dev/null || need+=(dnsmasq-base)
command -v in.tftpd >/dev/null || need+=(tftpd-hpa)
command -v nginx >/dev/null || need+=(nginx-light)
command -v curl >/dev/null || need+=(curl)
command -v atftp >/dev/null || need+=(atftp)
command -v wrk >/dev/null || need+=(wrk)
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
# The large fleet of section 6 names Debian's iPXE loaders, as a real fleet would.
[ -e /usr/lib/ipxe/ipxe.efi ] && [ -e /usr/lib/ipxe/undionly.kpxe ] || need+=(ipxe)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        # 101 = "action forbidden": the packages' postinst must not start tftpd-hpa or nginx.
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
    [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

# --- build --------------------------------------------------------------------------------
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
say "building ($PROFILE)"
crates=(-p netboot-bench)
[ "$PEERS_ONLY" = 1 ] || crates+=(-p netboot)
if [ "$PROFILE" = release ]; then
    [ "$BUILD" = 0 ] || (cd "$ROOT" && cargo build --release "${crates[@]}")
    BIN=$CARGO_TARGET_DIR/release
else
    [ "$BUILD" = 0 ] || (cd "$ROOT" && cargo build "${crates[@]}")
    BIN=$CARGO_TARGET_DIR/debug
fi
BENCH=$BIN/netboot-bench
NETBOOT=$BIN/netboot

# --- scratch space and cleanup --------------------------------------------------------------
WORK=$(mktemp -d /tmp/netboot-bench.XXXXXX)
mkdir -p "$OUT/logs"
: > "$OUT/results.jsonl"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "run.sh: failed at line $LINENO; the servers'"'"' logs are in $OUT/logs" >&2' ERR

# Waits until something listens on PROTO (t|u) ADDR:PORT (port checked: dnsmasq binds DHCP to
# the wildcard address), or fails after 15 s or when the server PID exits.
wait_listen() {
    local proto=$1 addr=$2 pid=$3 i
    for i in $(seq 150); do
        if ss -Hln"$proto" "sport = :${addr##*:}" | grep -q .; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "run.sh: the server for $addr exited; see $OUT/logs" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "run.sh: nothing listens on $addr after 15 s" >&2
    return 1
}

# A port already taken would be found listening by wait_listen while the server meant for it
# failed to bind, and the run would measure someone else's server.
busy_ports=$(ss -Hlntup | awk -v ports=" $NB_HTTP $NB_TFTP $NB_DHCP $NB_PXE $NGINX_PORT $HPA_PORT $DNSMASQ_DHCP $DHCP_CLIENT 69 4011 " \
    '{ n = split($5, a, ":"); if (index(ports, " " a[n] " ")) print "  " $1 " " $5 " " $7 }')
if [ -n "$busy_ports" ]; then
    printf 'run.sh: ports the suite needs are in use; stop these first:\n%s\n' "$busy_ports" >&2
    exit 1
fi

# start NAME COMMAND...: runs a server in the foreground of a background job, logs to OUT/logs.
start() {
    local name=$1
    shift
    "$@" > "$OUT/logs/$name.log" 2>&1 &
    PIDS+=($!)
    LAST_PID=$!
}

# stop PID...: ends servers started by `start` that must still be running (kill fails the run
# if one already died) and reaps them.
stop() {
    kill "$@"
    wait "$@" 2>/dev/null || true
}

# --- test files -----------------------------------------------------------------------------
say "writing test files"
FILES=$WORK/files
mkdir -p "$FILES"
head -c "$T1" /dev/urandom > "$FILES/big32.bin"
head -c "$T2" /dev/urandom > "$FILES/mid8.bin"
head -c "$H1" /dev/urandom > "$FILES/big256.bin"
head -c "$H2" /dev/urandom > "$FILES/mid64.bin"
# The fleet boots big256.bin as a kernel, and `netboot build` checks that a kernel is one:
# the x86 boot protocol's "HdrS" at 0x202 makes the random bytes a bzImage as far as it looks.
printf 'HdrS' | dd of="$FILES/big256.bin" bs=1 seek=$((0x202)) conv=notrunc status=none
{
    printf '#!ipxe\n# netboot bench: a 300-byte script, the size of a per-host boot script\n'
    printf 'kernel artifacts/kernel console=ttyS0 initrd=initrd\ninitrd artifacts/initrd\nboot\n'
} > "$FILES/script.ipxe"
pad=$((300 - $(stat -c %s "$FILES/script.ipxe")))
printf '#%*s\n' $((pad - 2)) '' | tr ' ' x >> "$FILES/script.ipxe"
chmod -R a+rX "$WORK"
sha() { sha256sum "$FILES/$1" | cut -c1-64; }
SHA_T1=$(sha big32.bin) SHA_T2=$(sha mid8.bin) SHA_H1=$(sha big256.bin) SHA_H2=$(sha mid64.bin)
SHA_S=$(sha script.ipxe)
(cd "$FILES" && sha256sum ./*) > "$OUT/files.sha256"

# --- machine description ---------------------------------------------------------------------
{
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
    echo "memory: $(free -g | awk '/^Mem:/ {print $2}') GiB; kernel $(uname -r)"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "netboot: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown) ($PROFILE build)"
    echo "dnsmasq: $(dnsmasq --version | head -1)"
    echo "tftpd-hpa: $(in.tftpd -V 2>&1 | head -1)"
    echo "nginx: $(nginx -v 2>&1)"
    echo "wrk: $(wrk -v 2>&1 | head -1)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# --- servers --------------------------------------------------------------------------------
say "starting servers"
# dnsmasq as TFTP server: edns-packet-max sizes its packet buffer, which also caps blksize
# (the default gives 2263); tftp-max lets all 64 concurrent clients in (the default is 50).
start dnsmasq-tftp dnsmasq --no-daemon --conf-file=/dev/null --port=0 --user=root --pid-file= \
    --listen-address=$DNSMASQ_TFTP_ADDR --bind-interfaces --enable-tftp --tftp-root="$FILES" \
    --tftp-max=512 --edns-packet-max=65535 --quiet-tftp --log-facility=-
wait_listen u "$DNSMASQ_TFTP_ADDR:69" "$LAST_PID"
DNSMASQ_TFTP_PID=$LAST_PID

# dnsmasq as proxy-DHCP peer. It answers on lo, with a broadcast that stays on lo, to the
# alternate client port; the client listens on 0.0.0.0:DHCP_CLIENT to hear it.
start dnsmasq-dhcp dnsmasq --no-daemon --conf-file=/dev/null --port=0 --user=root --pid-file= \
    --interface=lo --bind-interfaces --dhcp-range=127.0.0.1,proxy \
    --dhcp-alternate-port=$DNSMASQ_DHCP,$DHCP_CLIENT --dhcp-leasefile="$WORK/dnsmasq.leases" \
    --pxe-service=x86PC,boot,undionly --quiet-dhcp --log-facility=-
wait_listen u "127.0.0.1:$DNSMASQ_DHCP" "$LAST_PID"
DNSMASQ_DHCP_PID=$LAST_PID

start tftpd-hpa in.tftpd --foreground --listen --address 127.0.0.1:$HPA_PORT --user root \
    --secure "$FILES"
wait_listen u "127.0.0.1:$HPA_PORT" "$LAST_PID"
HPA_PID=$LAST_PID

mkdir -p "$WORK/nginx"
cat > "$WORK/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
    sendfile on;
    tcp_nopush on;
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path $WORK/nginx/body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    types { application/octet-stream bin ipxe; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $FILES;
    }
}
EOF
start nginx nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e stderr
wait_listen t "127.0.0.1:$NGINX_PORT" "$LAST_PID"
NGINX_PID=$LAST_PID

NB=()
SCRIPT_NB=""
if [ "$PEERS_ONLY" = 0 ]; then
    # The bench fleet. TFTP serves loaders (at their basename), so the two TFTP test files are
    # the loaders: the same names as on the peers. HTTP files are artifacts (artifacts/<name>).
    # The small-file test fetches the profile's generated script (held in memory, as every
    # script is), its cmdline padded so the script is 300 bytes; the peers serve a copy of it.
    write_fleet() { # CMDLINE-PADDING
        cat > "$WORK/fleet.kdl" <<EOF
loaders { bios "files/big32.bin"; efi-x64 "files/mid8.bin"; }
artifact "big256" path="files/big256.bin" sha256="$SHA_H1"
artifact "mid64" path="files/mid64.bin" sha256="$SHA_H2"
profile "bench" {
    kernel "big256"
    initrd "mid64"
    cmdline "console=ttyS0 root=/dev/nfs nfsroot=192.0.2.1:/srv/bench ip=dhcp ro $1"
}
default profile="bench"
EOF
        "$NETBOOT" build "$WORK/fleet.kdl" -o "$WORK/bench-out" > "$OUT/logs/bench-build.log" 2>&1
    }
    write_fleet ""
    script_size=$(stat -c %s "$WORK/bench-out/profiles/bench.ipxe")
    # The compiler trims the trailing space of the unpadded cmdline: padding adds it back.
    if [ "$script_size" -lt 300 ]; then
        write_fleet "quiet$(printf '%*s' $((300 - script_size - 6)) '' | tr ' ' x)"
    fi
    cp "$WORK/bench-out/profiles/bench.ipxe" "$FILES/script.ipxe"
    SHA_S=$(sha script.ipxe)
    SCRIPT_NB=profiles/bench.ipxe
    # Logging at warn, like the peers' quiet modes: the table measures serving, not logging.
    start netboot env RUST_LOG=warn "$NETBOOT" serve "$WORK/fleet.kdl" --address 127.0.0.1 \
        --http-port $NB_HTTP --tftp-port $NB_TFTP --dhcp-port $NB_DHCP --pxe-port $NB_PXE
    NB_PID=$LAST_PID
    wait_listen t "127.0.0.1:$NB_HTTP" "$NB_PID"
    wait_listen u "127.0.0.1:$NB_TFTP" "$NB_PID"
    wait_listen u "127.0.0.1:$NB_DHCP" "$NB_PID"
    NB=(ok)
fi
echo "small script: $(stat -c %s "$FILES/script.ipxe") bytes" >> "$OUT/machine.txt"

# Target lists: netboot first, then the peers; each server's process (and its children) is
# charged the CPU it spends on a test, a number scheduling noise moves less than wall time.
tftp_targets() { # FILE
    [ ${#NB[@]} -eq 0 ] || echo "--target netboot=127.0.0.1:$NB_TFTP/$1 --cpu-pid netboot=$NB_PID"
    echo "--target dnsmasq=$DNSMASQ_TFTP_ADDR:69/$1 --cpu-pid dnsmasq=$DNSMASQ_TFTP_PID"
    # No CPU for tftpd-hpa: its per-transfer children exit before it reaps them, so their time
    # reaches no counter we can read in time.
    echo "--target tftpd-hpa=127.0.0.1:$HPA_PORT/$1"
}
http_targets() { # FILE NETBOOT-PATH
    [ ${#NB[@]} -eq 0 ] || echo "--target netboot=127.0.0.1:$NB_HTTP/$2 --cpu-pid netboot=$NB_PID"
    echo "--target nginx=127.0.0.1:$NGINX_PORT/$1 --cpu-pid nginx=$NGINX_PID"
}
RESULTS=$OUT/results.jsonl
MIB_T1=$((T1 >> 20))

# --- 0. the physical limit: how fast this machine copies memory --------------------------------
# Every loopback byte is copied at least once into a client's buffer and read again to verify
# it: the figures below are read against this one.
if want 0; then
    say "memory copy rate"
    if [ "$SMOKE" = 1 ]; then membw=(--mib 16 --reps 1); else membw=(--mib 256 --reps 5); fi
    "$BENCH" membw "${membw[@]}" >> "$RESULTS"
fi

# --- 1. one TFTP transfer at several block sizes --------------------------------------------
if want 1; then
    for bs in 512 1468 65464; do
        say "TFTP ${MIB_T1} MiB, blksize $bs"
        goal=""
        [ $bs = 1468 ] && goal="peer:dnsmasq:1.5"
        # shellcheck disable=SC2046
        "$BENCH" tftp $(tftp_targets big32.bin) --test "TFTP $MIB_T1 MiB, blksize $bs" \
            --size "$T1" --sha256 "$SHA_T1" --blksize $bs --reps $REPS --goal "$goal" >> "$RESULTS"
    done
    say "TFTP ${MIB_T1} MiB, blksize 1468, windowsize 16"
    # shellcheck disable=SC2046
    "$BENCH" tftp $(tftp_targets big32.bin) --test "TFTP $MIB_T1 MiB, blksize 1468, windowsize 16" \
        --size "$T1" --sha256 "$SHA_T1" --blksize 1468 --windowsize 16 --reps $REPS \
        --goal "self:TFTP $MIB_T1 MiB, blksize 1468:5" >> "$RESULTS"
fi

# --- 2. concurrent TFTP clients ---------------------------------------------------------------
if want 2; then
    say "TFTP $T2N clients x $((T2 >> 10)) KiB"
    # shellcheck disable=SC2046
    "$BENCH" tftp $(tftp_targets mid8.bin) --test "TFTP $T2N clients x $((T2 >> 10)) KiB, blksize 1468" \
        --size "$T2" --sha256 "$SHA_T2" --blksize 1468 --clients $T2N --reps $CREPS \
        --goal "peer:dnsmasq:1.2;nofail" >> "$RESULTS"
fi

# --- 3. HTTP downloads ------------------------------------------------------------------------
if want 3; then
    say "HTTP $((H1 >> 20)) MiB"
    # shellcheck disable=SC2046
    "$BENCH" http $(http_targets big256.bin artifacts/big256) --test "HTTP 1 client x $((H1 >> 20)) MiB" \
        --size "$H1" --sha256 "$SHA_H1" --file "$FILES/big256.bin" --reps $REPS \
        --goal "peer:nginx:1" >> "$RESULTS"
    say "HTTP $H2N clients x $((H2 >> 20)) MiB"
    # shellcheck disable=SC2046
    "$BENCH" http $(http_targets mid64.bin artifacts/mid64) --test "HTTP $H2N clients x $((H2 >> 20)) MiB" \
        --size "$H2" --sha256 "$SHA_H2" --file "$FILES/mid64.bin" --clients $H2N --reps $CREPS --goal "peer:nginx:1;nofail" >> "$RESULTS"
fi

# --- 4. small script, many requests ------------------------------------------------------------
if want 4; then
    say "HTTP 300-byte script, wrk 64 connections"
    # shellcheck disable=SC2046
    "$BENCH" wrk $(http_targets script.ipxe "$SCRIPT_NB") --test "HTTP 300 B script, wrk 64 conns" \
        --sha256 "$SHA_S" --connections 64 --threads 2 --duration $WRK_S --reps $CREPS \
        --goal "peer:nginx:0.5" >> "$RESULTS"
fi

# --- 5. proxy-DHCP ------------------------------------------------------------------------------
if want 5; then
    dhcp_targets=()
    [ ${#NB[@]} -eq 0 ] || dhcp_targets+=(--target "netboot=127.0.0.1:$NB_DHCP" --cpu-pid "netboot=$NB_PID")
    dhcp_targets+=(--target "dnsmasq=127.0.0.1:$DNSMASQ_DHCP" --cpu-pid "dnsmasq=$DNSMASQ_DHCP_PID")
    for inflight in 1 16; do
        say "proxy-DHCP DISCOVER->OFFER, $inflight in flight"
        p99goal=""
        [ $inflight = 1 ] && p99goal="max:1"
        "$BENCH" dhcp "${dhcp_targets[@]}" --test "proxy-DHCP, $inflight in flight" \
            --client 0.0.0.0:$DHCP_CLIENT --requests $DHCP_N --inflight $inflight --reps $CREPS \
            --goal-rate "peer:dnsmasq:1" --goal-p99 "$p99goal" >> "$RESULTS"
    done
fi

# --- 6. a large fleet: compile time, peak memory, serving memory -----------------------------------
if want 6; then
    rss_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
    if [ ${#NB[@]} -gt 0 ]; then
        "$BENCH" record --test "netboot serve (bench fleet) after all tests" --metric "RSS MiB" \
            --sample "$(( $(rss_kib "$NB_PID" VmRSS) / 1024 ))" >> "$RESULTS"
        stop "$NB_PID"

        say "fleet of $FLEET_N machines"
        "$BENCH" fleet --machines $FLEET_N --dir "$WORK/fleet"
        # Each repetition writes a fresh directory: deleting 13,000 files and creating them again
        # at once sends ext4 on a slow search for inodes that were not just freed, which measured
        # the filesystem (up to 4x the time), not the compiler.
        times=() cpus=() peaks=()
        for rep in $(seq $CREPS); do
            /usr/bin/time -v -o "$WORK/time.txt" "$NETBOOT" build "$WORK/fleet/fleet.kdl" \
                -o "$WORK/fleet-out-$rep" > "$OUT/logs/fleet-build.log" 2>&1
            times+=(--sample "$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0;
                for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$WORK/time.txt")")
            cpus+=(--sample "$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$WORK/time.txt")")
            peaks+=(--sample "$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$WORK/time.txt")")
        done
        "$BENCH" record --test "netboot build, $FLEET_N machines" --metric "wall s" "${times[@]}" >> "$RESULTS"
        "$BENCH" record --test "netboot build, $FLEET_N machines" --metric "CPU s (user+sys)" "${cpus[@]}" >> "$RESULTS"
        "$BENCH" record --test "netboot build, $FLEET_N machines" --metric "peak RSS MiB" "${peaks[@]}" >> "$RESULTS"

        for mode in fleet manifest; do
            if [ $mode = fleet ]; then src=("$WORK/fleet/fleet.kdl"); else src=(--manifest "$WORK/fleet-out-1/manifest.json"); fi
            start "serve-$mode" env RUST_LOG=warn "$NETBOOT" serve "${src[@]}" --address 127.0.0.1 \
                --http-port $NB_HTTP --tftp-port $NB_TFTP --dhcp-port $NB_DHCP --pxe-port $NB_PXE
            pid=$LAST_PID
            wait_listen u "127.0.0.1:$NB_DHCP" "$pid"
            # Answer a few thousand of the fleet's machines (the DISCOVER MACs are the fleet's) first.
            "$BENCH" dhcp --target "netboot=127.0.0.1:$NB_DHCP" --test warmup --client 0.0.0.0:$DHCP_CLIENT \
                --requests $((FLEET_N < 5000 ? FLEET_N : 5000)) --inflight 16 --reps 1 > /dev/null
            what="netboot serve fleet.kdl"
            [ $mode = manifest ] && what="netboot serve --manifest"
            goal=""
            [ $mode = manifest ] && goal="max:64"
            "$BENCH" record --test "$what, $FLEET_N machines" --metric "RSS MiB" \
                --sample "$(awk "BEGIN {printf \"%.1f\", $(rss_kib "$pid" VmRSS) / 1024}")" --goal "$goal" >> "$RESULTS"
            stop "$pid"
        done
    fi
fi

# --- 7. boot storm: N machines through the whole chain at once -----------------------------------
# Each simulated machine does what OVMF (or a BIOS PXE ROM) and then iPXE do: DISCOVER, the
# 4011 request, the loader by TFTP, iPXE's DISCOVER and 4011 request, then script, kernel and
# initrd by HTTP (bench/src/storm_client.rs). The peer is what an operator runs for the same
# chain: ONE dnsmasq doing proxy-DHCP and TFTP, and nginx for HTTP.
if want 7; then
    say "boot storm"
    # The storm's dnsmasq needs ports 69 and 4011 in one process: the earlier ones go first.
    stop "$DNSMASQ_TFTP_PID" "$DNSMASQ_DHCP_PID"
    # The storm's netboot takes the bench fleet's ports: section 6 stopped that server, unless
    # --only skipped it.
    if [ ${#NB[@]} -gt 0 ] && kill -0 "$NB_PID" 2>/dev/null; then stop "$NB_PID"; fi
    # Loaders the size of Debian's ipxe.efi and undionly.kpxe; kernel and initrd under artifacts/,
    # where the generated profile script's relative URLs (../artifacts/NAME) point on nginx too.
    mkdir -p "$FILES/artifacts"
    head -c 850528 /dev/urandom > "$FILES/storm-ipxe.efi"
    head -c 74213 /dev/urandom > "$FILES/storm-undionly.kpxe"
    head -c "$STORM_KERNEL" /dev/urandom > "$FILES/artifacts/storm-kernel"
    printf 'HdrS' | dd of="$FILES/artifacts/storm-kernel" bs=1 seek=$((0x202)) conv=notrunc status=none
    head -c "$STORM_INITRD" /dev/urandom > "$FILES/artifacts/storm-initrd"
    chmod -R a+rX "$FILES"
    SHA_EFI=$(sha storm-ipxe.efi) SHA_KPXE=$(sha storm-undionly.kpxe)
    SHA_SK=$(sha artifacts/storm-kernel) SHA_SI=$(sha artifacts/storm-initrd)
    cat > "$WORK/storm.kdl" <<KDL
loaders { bios "files/storm-undionly.kpxe"; efi-x64 "files/storm-ipxe.efi"; }
artifact "storm-kernel" path="files/artifacts/storm-kernel" sha256="$SHA_SK"
artifact "storm-initrd" path="files/artifacts/storm-initrd" sha256="$SHA_SI"
profile "storm" {
    kernel "storm-kernel"
    initrd "storm-initrd"
    cmdline "console=ttyS0 ip=dhcp"
}
default profile="storm"
KDL
    storm_targets=()
    if [ ${#NB[@]} -gt 0 ]; then
        # The peer serves netboot's own generated profile script, so both boot the same commands.
        "$NETBOOT" build "$WORK/storm.kdl" -o "$WORK/storm-out" > "$OUT/logs/storm-build.log" 2>&1
        cp "$WORK/storm-out/profiles/storm.ipxe" "$FILES/storm.ipxe"
        # A fresh server, so its VmHWM is the storm's peak.
        start netboot-storm env RUST_LOG=warn "$NETBOOT" serve "$WORK/storm.kdl" --address 127.0.0.1 \
            --http-port $NB_HTTP --tftp-port $NB_TFTP --dhcp-port $NB_DHCP --pxe-port $NB_PXE
        NB_PID=$LAST_PID
        wait_listen t "127.0.0.1:$NB_HTTP" "$NB_PID"
        wait_listen u "127.0.0.1:$NB_TFTP" "$NB_PID"
        wait_listen u "127.0.0.1:$NB_DHCP" "$NB_PID"
        storm_targets+=(--target "netboot=127.0.0.1:$NB_DHCP,$NB_PXE,$NB_TFTP" --cpu-pid "netboot=$NB_PID"
            --rss-pid "netboot=$NB_PID")
    else
        printf '#!ipxe\nkernel ../artifacts/storm-kernel initrd=initrd console=ttyS0 ip=dhcp\ninitrd ../artifacts/storm-initrd\nboot\n' \
            > "$FILES/storm.ipxe"
    fi
    # What dnsmasq 2.90 answers here (checked by printing the parsed replies; the first machine's
    # are in the log of every run):
    # - UEFI firmware DISCOVER (arch 7): an OFFER with no boot file and no option 43, siaddr and
    #   option 54 127.0.0.1. The 4011 REQUEST (no boot item: there was no menu) is ACKed with
    #   file storm-ipxe.efi, siaddr 127.0.0.1. (Echoing item 0x8000 there would get the x86PC
    #   loader instead: dnsmasq numbers its items across all services.)
    # - BIOS firmware DISCOVER (arch 0): an OFFER with a PXE menu in option 43 (discovery control
    #   3, boot server 127.0.0.1, one item 0x8000) and no file; the 4011 REQUEST echoing item
    #   0x8000 (sub-option 71) is ACKed with file storm-undionly.kpxe.
    # - TFTP: blksize as asked, windowsize left out of the OACK (dnsmasq has none): lockstep.
    # - iPXE DISCOVER (user class iPXE, so tag ipxe): on UEFI as above, and the ProxyDHCPREQUEST to
    #   4011 gets file http://.../storm.ipxe. On BIOS the OFFER and the plain 4011 answer carry the
    #   menu again (item 0x8002) with no file: iPXE then does boot-server discovery (a 4011
    #   REQUEST with item 0x8002) and gets the URL.
    # The alternate ports are section 5's; TFTP is on 127.0.0.1:69, 4011 is dnsmasq's fixed port.
    start dnsmasq-storm dnsmasq --no-daemon --conf-file=/dev/null --port=0 --user=root --pid-file= \
        --interface=lo --bind-interfaces --dhcp-range=127.0.0.1,proxy \
        --dhcp-alternate-port=$DNSMASQ_DHCP,$DHCP_CLIENT --dhcp-leasefile="$WORK/storm.leases" \
        --enable-tftp --tftp-root="$FILES" --tftp-max=1024 \
        --dhcp-userclass=set:ipxe,iPXE \
        --pxe-service=tag:!ipxe,x86PC,"Network boot",storm-undionly.kpxe \
        --pxe-service=tag:!ipxe,X86-64_EFI,"Network boot",storm-ipxe.efi \
        --pxe-service=tag:ipxe,x86PC,"iPXE",http://127.0.0.1:$NGINX_PORT/storm.ipxe \
        --pxe-service=tag:ipxe,X86-64_EFI,"iPXE",http://127.0.0.1:$NGINX_PORT/storm.ipxe \
        --quiet-dhcp --quiet-tftp --log-facility=-
    DNSMASQ_STORM_PID=$LAST_PID
    wait_listen u "127.0.0.1:$DNSMASQ_DHCP" "$DNSMASQ_STORM_PID"
    wait_listen u "127.0.0.1:69" "$DNSMASQ_STORM_PID"
    wait_listen u "127.0.0.1:4011" "$DNSMASQ_STORM_PID"
    PEER=dnsmasq+nginx
    CORES=$(nproc)
    cpu_range() { if [ "$1" = "$2" ]; then echo "$1"; else echo "$1-$2"; fi; }
    # place CPUS: moves every thread of the storm's servers (nginx's workers too) onto CPUS.
    place() {
        local pid pids=("$DNSMASQ_STORM_PID" "$NGINX_PID")
        [ ${#NB[@]} -eq 0 ] || pids+=("$NB_PID")
        for pid in "${pids[@]}" $(pgrep -P "$NGINX_PID"); do
            taskset -a -p -c "$1" "$pid" > /dev/null
        done
    }
    storm_targets+=(--target "$PEER=127.0.0.1:$DNSMASQ_DHCP,4011,69"
        --cpu-pid "$PEER=$DNSMASQ_STORM_PID,$NGINX_PID")
    storm() { # FIRMWARE N LOADER-SIZE LOADER-SHA GOALS...
        local firmware=$1 n=$2 size=$3 sha=$4
        shift 4
        ${STORM_PREFIX:-} "$BENCH" storm "${storm_targets[@]}" --firmware "$firmware" --clients "$n" \
            --spread-ms "${spread:-$STORM_SPREAD_MS}" --reps "${reps:-$STORM_REPS}" --client "0.0.0.0:$DHCP_CLIENT" \
            --loader-size "$size" --loader-sha256 "$sha" \
            --kernel-size "$STORM_KERNEL" --kernel-sha256 "$SHA_SK" \
            --kernel-file "$FILES/artifacts/storm-kernel" \
            --initrd-size "$STORM_INITRD" --initrd-sha256 "$SHA_SI" \
            --initrd-file "$FILES/artifacts/storm-initrd" \
            --timeout-s "$STORM_TIMEOUT_S" "$@" >> "$RESULTS"
    }
    # Issue 15's goals. N grows run by run, so netboot's VmHWM after each is that N's peak so far.
    for n in $STORM_N; do
        say "boot storm: $n UEFI machines"
        storm uefi "$n" 850528 "$SHA_EFI" --goal-wall "peer:$PEER:0.7;nofail" \
            --goal-p99 "peer:$PEER:0.7" --goal-cpu "peer:$PEER:1" --goal-rss "max:64"
    done
    # Machines powered on one after another (a rack's PDU, a BMC script): the first UEFI size again,
    # started over STORM_SPREAD_LATER_MS (100 machines when STORM_N is empty); the time per machine
    # is what matters there.
    reps=$STORM_SPREAD_REPS
    for spread in $STORM_SPREAD_LATER_MS; do
        n=${STORM_N%% *}
        n=${n:-100}
        say "boot storm: $n UEFI machines started over $spread ms"
        storm uefi "$n" 850528 "$SHA_EFI" --goal-wall "nofail" --goal-p99 "peer:$PEER:0.7"
        # The same with every server on the first half of the cores and the machines on the
        # other: on loopback the scheduler otherwise runs a lone machine on its server's core
        # (a socket's wakeups are "sync": the waker is expected to sleep), so the two take
        # turns on one core, where a real machine computes on its own CPU while the server
        # sends. Not a goal: it shows what placement costs each stack.
        if [ "$CORES" -ge 2 ]; then
            servers=$(cpu_range 0 $((CORES / 2 - 1))) machines=$(cpu_range $((CORES / 2)) $((CORES - 1)))
            place "$servers"
            STORM_PREFIX="taskset -c $machines" storm uefi "$n" 850528 "$SHA_EFI" --goal-wall "nofail" \
                --variant "servers on CPU $servers, machines on CPU $machines"
            place "0-$((CORES - 1))"
        fi
    done
    unset spread reps
    for n in $STORM_BIOS_N; do
        say "boot storm: $n BIOS machines"
        storm bios "$n" 74213 "$SHA_KPXE" --goal-wall "peer:$PEER:0.8" --goal-cpu "peer:$PEER:1"
    done
fi

# --- table --------------------------------------------------------------------------------------
"$BENCH" table "$RESULTS" > "$OUT/table.md"
say "results (medians; MB = 10^6 bytes; $OUT/results.jsonl has every sample)"
cat "$OUT/table.md"
# A failed or corrupt download fails the run (the smoke run in CI checks the suite this way);
# unmet goals do not: tiny sizes on a debug build measure nothing.
if grep -q '"failures":[1-9]' "$RESULTS"; then
    echo "run.sh: some downloads failed or were corrupt; see the Failures column" >&2
    exit 1
fi
