#!/usr/bin/env bash
# make bench: maestro diff against dyff between on synthetic workflows (bench/cmd/diffbench), then the Go
# micro-benchmarks, summarized with benchstat. Needs bin/maestro (make build); builds bin/dyff and bin/diffbench.
# Results go to bench/results/ (not committed; docs/benchmarks.md records the numbers we keep).
#
# Environment: BENCH_COUNT (default 6) and BENCHTIME (default 500ms, which keeps make bench within about five
# minutes on two cores) for the micro-benchmarks; DIFFBENCH_FLAGS for diffbench (for example "-runs 3" or
# "-sizes 1000,5000" or "-strict"); SKIP_MICRO=1 to run diffbench only.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
results=bench/results
mkdir -p "$results" bin

if [ ! -x bin/maestro ]; then
  echo "bench: bin/maestro is missing; run make build (or make bench)" >&2
  exit 2
fi
# dyff comes from tools/go.mod, so its version is pinned with the other tools.
"$GO" build -modfile=tools/go.mod -o bin/dyff github.com/homeport/dyff/cmd/dyff
"$GO" build -o bin/diffbench ./bench/cmd/diffbench

echo "== maestro diff vs dyff between (bench/cmd/diffbench)"
# shellcheck disable=SC2086 # DIFFBENCH_FLAGS is a list of flags
bin/diffbench -maestro bin/maestro -dyff bin/dyff \
  -out "$results/diffbench.md" -json "$results/diffbench.json" ${DIFFBENCH_FLAGS:-}
cat "$results/diffbench.md"

if [ "${SKIP_MICRO:-}" = 1 ]; then
  exit 0
fi
# Every package of the main module that has a benchmark; others are editing them, so look rather than list.
mapfile -t pkgs < <(grep -rl --include='*_test.go' --exclude-dir=tools --exclude-dir=bench --exclude-dir=testdata \
  --exclude-dir=.git -E '^func Benchmark' . | xargs -n1 dirname | sort -u)
if [ "${#pkgs[@]}" -eq 0 ]; then
  echo "bench: no Go benchmarks found" >&2
  exit 0
fi
echo
echo "== Go micro-benchmarks: ${pkgs[*]} (count ${BENCH_COUNT:-6}, benchtime ${BENCHTIME:-500ms})"
"$GO" test -run '^$' -bench . -benchmem -count "${BENCH_COUNT:-6}" -benchtime "${BENCHTIME:-500ms}" "${pkgs[@]}" \
  > "$results/micro.txt"
"$GO" tool -modfile=tools/go.mod benchstat "$results/micro.txt" | tee "$results/micro-benchstat.txt"
