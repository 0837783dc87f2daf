#!/usr/bin/env bash
# Every CPU speed figure of AuM-tiny in one run: models sweep (AuM, SSAMBA, AST side by side, 512..16k tokens,
# inference + a train step at 512; all threads for every model, as a fair race), the scan alone at L=1024, and
# the default thread policy quiet and under a 2-process load.
# Run it on a quiet machine:   bench/cpu_acceptance.sh [OUT_DIR]        (about 10 minutes on 2 cores)
# Dry run at toy sizes:        QUICK=1 bench/cpu_acceptance.sh bench_out/rehearsal
set -euo pipefail
OUT=${1:-bench_out/cpu_acceptance}
if [ -z "${PY:-}" ]; then PY=python; if [ -x .venv/bin/python ]; then PY=.venv/bin/python; fi; fi
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}
mkdir -p "$OUT"
if [ "${QUICK:-0}" = 1 ]; then
  MODELS=(--tokens 512,2048 --depth 2 --repeats 1 --warmup 1); SCAN=(--lengths 1024 --repeats 1 --no-memory)
  THREADS=(--depth 2 --repeats 2)
else
  MODELS=(--tokens 512,1024,2048,4096,8192,16384); SCAN=(--lengths 1024 --repeats 5); THREADS=(--repeats 7)
fi
$PY -m aum bench models --device cpu --threads 0 --models aum_tiny,ssamba_tiny,ast_tiny --attention sdpa --batch 1 \
  --modes inference,train --train-tokens 512 "${MODELS[@]}" --out "$OUT"
$PY -m aum bench scan --device cpu --threads 0 --batch 2 --dim 384 --state 16 --backends numba cpu ref "${SCAN[@]}" \
  --out "$OUT/scan.csv"
$PY -m aum bench threads --model aum_tiny --tokens 512 --load 2 "${THREADS[@]}" --out "$OUT/threads.csv"
echo
echo "== CPU acceptance figures ($(nproc) cores; $(date -u +%FT%TZ)) =="
if [ "${QUICK:-0}" = 1 ]; then echo "(QUICK: toy sizes, depth 2 and few repeats: a rehearsal, not the figures)"; fi
$PY -m aum.bench.acceptance "$OUT"
