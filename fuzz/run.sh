#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a bounded time and prints, per target, the
# executions reached and any crash. Exits 1 if a target crashed; the crashing input is left in
# fuzz/artifacts/<target>/, where `cargo test` (runtime/tests/fuzz_corpus.rs,
# compiler/tests/fuzz_corpus.rs) replays it until it is fixed and moved into the corpus.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On a stable toolchain it sets RUSTC_BOOTSTRAP=1
# for the nightly flags cargo-fuzz passes. FUZZ_SANITIZER=none skips AddressSanitizer (the
# harnesses are safe Rust, so ASan mostly guards the C parts: libFuzzer itself, libc calls).
# New inputs the fuzzer finds go to a scratch corpus that is thrown away; the checked-in
# corpus under fuzz/corpus/ is only read.
set -euo pipefail

seconds=${1:-60}
shift || true
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
all=(dhcp_answer tftp_transfer http_head http_route compile pe_image)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

export RUSTC_BOOTSTRAP=1
target_dir=${CARGO_TARGET_DIR:-$here/target}
sanitizer=${FUZZ_SANITIZER:-address}
base=/dev/shm
[ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
work=$(mktemp -d "$base/netboot-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The compile harness copies the example artifacts here once and writes each fleet into it.
export NETBOOT_FUZZ_DIR=$work/compile
mkdir -p "$NETBOOT_FUZZ_DIR"

fuzz=(--sanitizer "$sanitizer" --debug-assertions --target-dir "$target_dir")
if ! cargo fuzz build "${fuzz[@]}" >"$work/build.log" 2>&1; then
    tail -40 "$work/build.log"
    exit 2
fi

# Run the built binaries directly: `cargo fuzz run` would rebuild first whenever a source
# changed, and that time would count against the target's budget.
host=$(rustc -vV | sed -n 's/^host: //p')
bin_dir=$target_dir/$host/release

status=0
printf '%-14s %8s %12s  %s\n' target seconds execs result
for t in "${targets[@]}"; do
    mkdir -p "$work/corpus/$t" "$here/artifacts/$t"
    log=$work/$t.log
    start=$(date +%s)
    set +e
    "$bin_dir/$t" "$work/corpus/$t" "$here/corpus/$t" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$here/artifacts/$t/" >"$log" 2>&1
    rc=$?
    set -e
    took=$(($(date +%s) - start))
    # A target killed by a signal prints no final stats: no count then, and the report goes on.
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
    if [ $rc -eq 0 ]; then
        result=ok
    else
        status=1
        crash=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //' || true)
        result="CRASH ${crash:-(no input written, see below)}"
    fi
    printf '%-14s %8s %12s  %s\n' "$t" "$took" "${execs:-?}" "$result"
    if [ $rc -ne 0 ]; then
        # The panic message and the top of the stack, for the report.
        grep -E "panicked at|^thread '|overflowed|assertion|ERROR: libFuzzer|SUMMARY" "$log" | head -20 | sed 's/^/    /' || true
        tail -5 "$log" | sed 's/^/    /'
    fi
done
exit $status
