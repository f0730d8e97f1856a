#!/bin/sh
# Runs the vs_ipvsadm benchmark inside the VM with Debian's stock kernel (this machine's
# kernel has no IPVS). Builds the benchmark (release profile) and rha-vm on the host first.
#
#   agents/ipvs-service/benches/run-in-vm.sh            5 runs per measurement
#   RHA_BENCH_RUNS=9 agents/ipvs-service/benches/run-in-vm.sh
#
# Honours CARGO_TARGET_DIR. Exit status: the benchmark's (2 = no IPVS / not root).
set -eu
cd "$(dirname "$0")/../../.."
target=${CARGO_TARGET_DIR:-$PWD/target}
exe=$(cargo bench -p rha-ipvs-service --bench vs_ipvsadm --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json, sys
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "vs_ipvsadm":
        print(m["executable"])')
[ -n "$exe" ] || { echo "run-in-vm: the benchmark did not build" >&2; exit 1; }
cargo build -q -p rha-harness --bin rha-vm
# The host's timing of the same agent process (no IPVS needed), to scale out TCG.
calib=$(RHA_BENCH_RUNS="${RHA_BENCH_RUNS:-5}" "$exe" --calibrate)
echo "$calib" | grep -v '^RHA_BENCH_HOST_'
host_config=$(echo "$calib" | sed -n 's/^RHA_BENCH_HOST_CONFIG_MS=//p')
host_cpu=$(echo "$calib" | sed -n 's/^RHA_BENCH_HOST_CPU_MS=//p')
exec "$target/debug/rha-vm" run --timeout 1800 \
    env RHA_BENCH_RUNS="${RHA_BENCH_RUNS:-5}" RHA_BENCH_SLOW_RUNS="${RHA_BENCH_SLOW_RUNS:-1}" \
    RHA_BENCH_HOST_CONFIG_MS="$host_config" RHA_BENCH_HOST_CPU_MS="$host_cpu" "$exe" --bench
