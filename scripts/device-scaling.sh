#!/usr/bin/env bash
# Issue 12's scaling curve on a bigger machine (a lent GPU machine has 16 cores and no node):
# bench:train with 1, 2, 4, 8 and 16 data-parallel replicas of one thread each, the PyTorch peer on
# the same number of threads, each run's last JSON line kept in $OUT/scaling-N.json.
# Here, first:  ../shared/tools/remote-bundle.sh .remote bench/train.ts src/train/replica-worker.ts
# and the wasm backend's JS glue that src/engine/wasm-threads.ts requires at run time (the bundle
# lacks it: "Cannot find module .../wasm-out/tfjs-backend-wasm-threaded-simd.js"):
#   w=.remote/node_modules/@tensorflow/tfjs-backend-wasm; mkdir -p $w/wasm-out
#   cp node_modules/@tensorflow/tfjs-backend-wasm/package.json $w/; cp node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/*.js $w/wasm-out/
# (2026-11-28 run: docs/benchmarks.md, "On 16 cores".)
# There (the device tool, carrying .remote):  bash scripts/device-scaling.sh
set -euo pipefail
out=${OUT:-.}
cd "$(dirname "$0")/../.remote"
python3 -c 'import torch; print("peer: torch", torch.__version__)' || true
lscpu | grep -E '^(Model name|CPU\(s\)|Flags)' | cut -c1-200
for n in ${REPLICAS:-1 2 4 8 16}; do
  timeout 170 bash setup.sh train.mjs --threads "$n" --replicas "$n" --steps "${STEPS:-4}" | tee "$out/scaling-$n.log" | tail -1 > "$out/scaling-$n.json" || echo "replicas $n: failed or timed out" >&2
  tail -1 "$out/scaling-$n.json"
done
