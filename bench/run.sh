#!/usr/bin/env bash
# Side-by-side benchmarks of lansd against grandcat/zeroconf v1.0.0,
# hashicorp/mdns v1.0.7, brutella/dnssd v1.2.14 and python-zeroconf (and
# Avahi for rows 7 and 8, hosts whose addresses and interfaces change) on a
# virtual LAN of network namespaces (internal/lantest), then a table per row.
#
#   ./bench/run.sh            full run: 5 repetitions, 60 s idle window
#   QUICK=1 ./bench/run.sh    short run: 3 repetitions, 10 s idle window
#
# Needs root (network namespaces). Every announcer and browser, lansd's and
# the peers', runs only inside namespaces the benchmarks create. Not part of
# `make test`. Environment: REPS (repetitions), BENCH_IDLE (idle window),
# BENCH_LOAD (query load per repetition), OUT (directory for the raw logs).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

if [[ $(id -u) -ne 0 ]]; then
	echo "bench/run.sh: needs root (network namespaces)" >&2
	exit 2
fi
for tool in ip unshare go; do
	command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is missing" >&2; exit 2; }
done
apt_install() {
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 ||
		{ apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}
command -v nft >/dev/null || apt_install nftables || { echo "bench/run.sh: cannot install nftables" >&2; exit 2; }
# The peers: python3-zeroconf, and Avahi with its private D-Bus. scripts/deps.sh
# keeps avahi-daemon and dbus from starting on the machine's own network at install.
if ! /usr/bin/python3 -c 'import zeroconf' 2>/dev/null || ! command -v avahi-daemon >/dev/null ||
	! command -v avahi-browse >/dev/null || ! command -v dbus-daemon >/dev/null; then
	bash scripts/deps.sh || { echo "bench/run.sh: cannot install the peers (scripts/deps.sh)" >&2; exit 2; }
fi

if [[ ${QUICK:-0} == 1 ]]; then
	REPS=${REPS:-3}
	export BENCH_IDLE=${BENCH_IDLE:-10s} BENCH_LOAD=${BENCH_LOAD:-2s} BENCH_SCALE_PEER_REPS=${BENCH_SCALE_PEER_REPS:-1}
	GOCOUNT=2
else
	REPS=${REPS:-5}
	export BENCH_IDLE=${BENCH_IDLE:-60s} BENCH_LOAD=${BENCH_LOAD:-5s} BENCH_SCALE_PEER_REPS=${BENCH_SCALE_PEER_REPS:-2}
	GOCOUNT=5
fi
OUT=${OUT:-$(mktemp -d /tmp/lansd-bench-XXXXXX)}
mkdir -p "$OUT"
export BENCH_RESULTS="$OUT/results.jsonl"
: >"$BENCH_RESULTS"

machine() {
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), kernel $(uname -r), $(go version | cut -d' ' -f3-)"
}
LOAD_BEFORE=$(uptime)
echo "lansd benchmarks: REPS=$REPS BENCH_IDLE=$BENCH_IDLE BENCH_LOAD=$BENCH_LOAD, logs in $OUT"
machine
echo "load before: $LOAD_BEFORE"

status=0
go test -c -o "$OUT/bench.test" ./bench || exit 1
run_bench() { # PATTERN BENCHTIME
	echo "== $1 ($2)"
	(cd bench && "$OUT/bench.test" -test.run '^$' -test.bench "$1" -test.benchtime "$2" -test.timeout 60m -test.v) \
		>>"$OUT/bench.log" 2>&1 || { echo "   FAILED (see $OUT/bench.log)"; status=1; }
}
run_bench '^BenchmarkColdDiscovery$' "${REPS}x"
run_bench '^BenchmarkAppearanceRemoval$' "${REPS}x"
run_bench '^BenchmarkScale$' "${REPS}x"
run_bench '^BenchmarkBackToBack$' "$((2 * REPS))x"
run_bench '^BenchmarkLarge$' "2x"
run_bench '^BenchmarkResponder$' "${REPS}x"
run_bench '^BenchmarkAddressChange$' "${REPS}x"
run_bench '^BenchmarkNewInterface$' "${REPS}x"
run_bench '^BenchmarkGateway$/^one$' "${REPS}x"
run_bench '^BenchmarkGateway$/^thousand$' "2x"
run_bench '^BenchmarkDaemonBrowse$' "${REPS}x"
echo "== row 9 with ten hosts of 1,000 (BENCH_LARGE_HOSTS=10)"
(cd bench && BENCH_LARGE_HOSTS=10 "$OUT/bench.test" -test.run '^$' -test.bench '^BenchmarkLarge$' -test.benchtime 2x -test.timeout 60m -test.v) \
	>>"$OUT/bench.log" 2>&1 || { echo "   FAILED (see $OUT/bench.log)"; status=1; }
echo "== row 6: registry and txt benchmarks (-count $GOCOUNT)"
go test -run '^$' -bench '^BenchmarkCacheMemory$' -benchtime 3x ./internal/engine >"$OUT/engine.txt" 2>&1 || { echo "   FAILED: $OUT/engine.txt"; status=1; }
go test -run '^$' -bench '^BenchmarkLoadFull$' -count "$GOCOUNT" ./registry >"$OUT/registry.txt" 2>&1 || { echo "   FAILED: $OUT/registry.txt"; status=1; }
go test -run '^$' -bench '^(BenchmarkValidate|BenchmarkDecode)$' -count "$GOCOUNT" ./txt >"$OUT/txt.txt" 2>&1 || { echo "   FAILED: $OUT/txt.txt"; status=1; }
LOAD_AFTER=$(uptime)

echo
echo "================ lansd side-by-side benchmarks ================"
echo "command: ${QUICK:+QUICK=$QUICK }./bench/run.sh (REPS=$REPS, BENCH_IDLE=$BENCH_IDLE, BENCH_LOAD=$BENCH_LOAD)"
machine
echo "load before: $LOAD_BEFORE"
echo "load after:  $LOAD_AFTER"
echo "pair \"B browses A\": browser B, announcer A. n = values/tries. lansd/peer = median of the lansd pair"
echo "over the median of the peer pair: on a peer's own pair, lansd->lansd over peer->peer; on a"
echo "mixed pair, the mixed pair over the peer's own pair. Times are CLOCK_MONOTONIC taken inside the"
echo "namespace processes (see bench/*_test.go for the exact start and end of each)."
go run ./bench/table -results "$BENCH_RESULTS" -gobench "$OUT/registry.txt,$OUT/txt.txt,$OUT/engine.txt" || status=1
exit $status
