#!/bin/sh
# Runs the vs_upstream benchmark (rha-ldirectord, Perl ldirectord, keepalived) inside the VM
# with Debian's stock kernel (this machine's kernel has no IPVS). Builds it (release profile)
# and rha-vm on the host first.
#
#   daemons/ldirectord/benches/run-in-vm.sh                   100 and 1,000 reals
#   RHA_BENCH_REALS=100 daemons/ldirectord/benches/run-in-vm.sh
#   RHA_BENCH_DAEMONS=ours,keepalived daemons/ldirectord/benches/run-in-vm.sh
#
# Honours CARGO_TARGET_DIR.
set -eu
cd "$(dirname "$0")/../../.."
target=${CARGO_TARGET_DIR:-$PWD/target}
exe=$(cargo bench -p rha-ldirectord --features vm-tier --bench vs_upstream --no-run --message-format=json 2>/dev/null \
    | python3 -c 'import json, sys
for line in sys.stdin:
    try: m = json.loads(line)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "vs_upstream":
        print(m["executable"])')
[ -n "$exe" ] || { echo "run-in-vm: the benchmark did not build" >&2; exit 1; }
cargo build -q -p rha-harness --bin rha-vm
exec "$target/debug/rha-vm" run --timeout 2400 env RHA_BENCH_REALS="${RHA_BENCH_REALS:-100,1000}" \
    RHA_BENCH_DAEMONS="${RHA_BENCH_DAEMONS:-ours,keepalived,perl}" "$exe" --bench
