#!/usr/bin/env bash
# The whole GPU check in one run: CUDA tests, the Triton kernel sweep, models vs sequence length, the SSAMBA
# efficiency claim, the GPU fbank, then a profile and the verdict table. Everything lands in $OUT (a log and
# CSVs; at most 8 files: gpu_check.log kernel.csv scan.csv models.csv models.png fbank.csv profile.txt
# summary.txt), step by step, so a run cut off anywhere keeps what finished. Each step has its own time box and
# all of them share one budget (GPU_CHECK_BUDGET_S, default 510 s), so the run ends within about 9 minutes
# (--dry-run: 4x the time boxes and the budget).
#
#   bash bench/gpu_check.sh              # on the GPU machine (python3 with torch + Triton; wheels from .whl/)
#   bash bench/gpu_check.sh --dry-run    # the same steps at tiny sizes on the CPU (Triton through its
#                                        # interpreter), to catch a broken step before device time is spent
# Python: $PYTHON, else .venv/bin/python when present, else python3. Output: $OUT, else bench_out/gpu_check.
set -uo pipefail

DRY=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument '$arg' (only --dry-run)" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"; elif [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
OUT="${OUT:-bench_out/gpu_check}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d)"   # per-invocation CSVs before they are merged into $OUT (keeps $OUT within 8 files)
trap 'rm -rf "$WORK"' EXIT
LOG="$OUT/gpu_check.log"
: >"$LOG"
export PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}"
CAP_SCALE=$((DRY ? 4 : 1))   # time boxes are sized for the H200; a dry run on a small, busy CPU gets 4x
BUDGET_S="${GPU_CHECK_BUDGET_S:-$((510 * CAP_SCALE))}"
START=$(date +%s)
STEPS=()

log() { echo "[gpu_check $(date -u +%H:%M:%S)] $*" | tee -a "$LOG"; }

# step NAME CAP_SECONDS COMMAND...: run under `timeout` (the cap, or what is left of the budget if less)
step() {
  local name=$1 cap=$2 left limit t0 rc
  shift 2
  left=$((START + BUDGET_S - $(date +%s)))
  if [ "$left" -lt 15 ]; then
    log "SKIP $name: the budget of ${BUDGET_S}s is spent"
    STEPS+=("$name|skipped|0")
    return
  fi
  cap=$((cap * CAP_SCALE))
  limit=$((cap < left ? cap : left))
  log "== $name (time box ${limit}s): $*"
  t0=$(date +%s)
  timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  case $rc in 0) status=ok ;; 124|137) status="timed out" ;; *) status="failed (rc $rc)" ;; esac
  log "== $name: $status after $(($(date +%s) - t0))s"
  STEPS+=("$name|$status|$(($(date +%s) - t0))")
}

# merge PART DEST: append a CSV's rows to DEST (header only when DEST is new)
merge() {
  [ -s "$1" ] || return 0
  if [ -s "$2" ]; then tail -n +2 "$1" >>"$2"; else cp "$1" "$2"; fi
  rm -f "$1"
}

# ---- set-up: carried wheels (soundfile, soxr, kaldi-native-fbank, cffi, pycparser) for the tests ----
log "gpu_check: dry_run=$DRY python=$PY out=$OUT budget=${BUDGET_S}s"
if ls .whl/*.whl >/dev/null 2>&1; then
  if "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))'; then
    SITE="$WORK/site"
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl \
      2>&1 | tee -a "$LOG" && export PYTHONPATH="$PYTHONPATH:$SITE" && log "installed $(ls .whl | tr '\n' ' ')" \
      || log "installing the wheels from .whl/ FAILED (see above): the audio tests will fail to import"
  else
    log "wheels in .whl/ are for Python 3.12 and this is $("$PY" -c 'import sys; print(sys.version.split()[0])'):" \
        "not installed; using what this Python has"
  fi
fi
{
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.mem \
    --format=csv
  "$PY" - <<'EOF'
import importlib, platform, torch
print(f"python {platform.python_version()}, torch {torch.__version__}, cuda {torch.version.cuda}, "
      f"device {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none (CPU)'}")
for name in ("triton", "numpy", "soundfile", "soxr", "kaldi_native_fbank", "torchaudio", "mamba_ssm"):
    try:
        print(f"  {name} {getattr(importlib.import_module(name), '__version__', '?')}")
    except Exception as e:
        print(f"  {name}: not importable ({type(e).__name__})")
EOF
  echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%FT%TZ), $(nproc) CPUs"
} 2>&1 | tee -a "$LOG"

if [ "$DRY" = 1 ]; then
  export TRITON_INTERPRET=1 CUDA_VISIBLE_DEVICES=""   # the Triton steps run through the interpreter on the CPU
  KDIM="--batch 1 --dim 8 --state 16"; KSWEEP="--lengths 16 --configs 4:8:1:2"; KLEN="--lengths 24 --configs 4:8:1:2"
  KREP="--warmup 0 --repeats 1"
  SCAN="--batch 1 --dim 8 --lengths 16 24 --ref-max-length 16 --repeats 1 --no-memory --device cpu"
  MSZ="--depth 1 --warmup 0 --repeats 1 --device cpu"; T3="16,32"; T512=16; T4K=24; TSSA=24
  BTRAIN=2; FBANK="--clips 2 --seconds 1 --repeats 1 --threads 1"; PROF="--tokens 16 --batch 1 --depth 1 --steps 1"
  SSA="--depth 2"; NAIVE=""   # SSAST pairs its layers: an even depth
else
  KDIM="--batch 8 --dim 1536 --state 16"; KSWEEP="--lengths 4096"
  KLEN="--lengths 1024,2048,4096,8192,16384,32768,65536 --configs 4:32:4:8"; KREP="--warmup 3 --repeats 20"
  SCAN="--batch 8 --dim 1536 --lengths 1024 4096 16384 65536 --ref-max-length 4096 --repeats 5 --device cuda"
  MSZ="--device cuda"; T3="512,4096,16384"; T512=512; T4K=4096; TSSA=22528
  BTRAIN=12; FBANK="--clips 64 --seconds 10 --repeats 5"; PROF="--tokens 4096 --batch 4 --steps 3"
  SSA="--warmup 1 --repeats 5"; NAIVE="--warmup 1 --repeats 3"   # naive attention at 16k+ tokens: seconds a run
fi
MODELS=("$PY" -m aum bench models --no-plot)

# 1. CUDA tests (on the CPU they skip, except the mocked dispatch cases)
step "cuda tests" 110 "$PY" -m pytest -q -rs -p no:cacheprovider -k "cuda or gpu or hopper" \
  tests/test_triton_scan.py tests/test_scan.py tests/test_fbank.py tests/test_train_gpu.py

# 2. kernel: config sweep at L=4096, then L = 1k..64k (the default config), then Triton vs the loop reference
# shellcheck disable=SC2086
step "kernel config sweep" 75 "$PY" -m aum.bench.triton $KDIM $KSWEEP $KREP --dtype bf16 --out "$OUT/kernel.csv"
# shellcheck disable=SC2086
step "kernel length sweep" 60 "$PY" -m aum.bench.triton $KDIM $KLEN $KREP --dtype bf16 --out "$OUT/kernel.csv"
# shellcheck disable=SC2086
step "scan: triton vs reference" 60 "$PY" -m aum bench scan --op bidirectional --dtype bfloat16 \
  --backends triton ref $SCAN --out "$OUT/scan.csv"

# 3. models: the acceptance rows first (bf16), then the SSAMBA claim, then fp32 and naive attention
models_step() {  # models_step NAME CAP ARGS...: one `aum bench models` run merged into $OUT/models.csv
  local name=$1 cap=$2
  shift 2
  step "$name" "$cap" "${MODELS[@]}" "$@" --out "$WORK/models.csv"
  merge "$WORK/models.csv" "$OUT/models.csv"
}
# shellcheck disable=SC2086
models_step "models: AuM-base vs AST-base SDPA, bf16 inference" 60 --models aum_base,ast_base --attention sdpa \
  --tokens "$T3" --dtypes bf16 --modes inference --batch 4 $MSZ
# shellcheck disable=SC2086
models_step "models: training step bf16, $T512 x $BTRAIN" 35 --models aum_base,ast_base --attention sdpa \
  --tokens "$T512" --dtypes bf16 --modes train --batch "$BTRAIN" $MSZ
# shellcheck disable=SC2086
models_step "models: training step bf16, $T4K x 4" 35 --models aum_base,ast_base --attention sdpa \
  --tokens "$T4K" --dtypes bf16 --modes train --batch 4 $MSZ
# shellcheck disable=SC2086
models_step "models: SSAMBA/AuM-tiny vs SSAST-tiny naive, fp32, $TSSA tokens" 45 \
  --models ssamba_tiny,aum_tiny,ssast_tiny --attention naive --tokens "$TSSA" --dtypes fp32 --modes inference \
  --batch 4 $MSZ $SSA
# shellcheck disable=SC2086
models_step "models: fp32 inference, AuM-base vs AST-base SDPA" 40 --models aum_base,ast_base --attention sdpa \
  --tokens "$T3" --dtypes fp32 --modes inference --batch 4 $MSZ
# shellcheck disable=SC2086
models_step "models: fp32 training steps" 40 --models aum_base,ast_base --attention sdpa --tokens "$T512" \
  --dtypes fp32 --modes train --batch "$BTRAIN" $MSZ
# shellcheck disable=SC2086
models_step "models: fp32 training steps, $T4K x 4" 30 --models aum_base,ast_base --attention sdpa --tokens "$T4K" \
  --dtypes fp32 --modes train --batch 4 $MSZ
# shellcheck disable=SC2086
models_step "models: AST-base naive attention" 45 --models ast_base --attention naive --tokens "$T3" \
  --dtypes bf16,fp32 --modes inference --batch 4 $MSZ $NAIVE

# 4. the GPU fbank (with the CPU and kaldi-native-fbank rows of the same run)
# shellcheck disable=SC2086
step "fbank" 30 "$PY" -m aum bench fbank $FBANK --out "$OUT/fbank.csv"

# 5. where the time goes: AuM-base inference and training step at 4096 tokens, bf16
# shellcheck disable=SC2086
step "profile AuM-base" 40 "$PY" -m aum.bench.gpu_profile --model aum_base --dtype bf16 $PROF \
  $([ "$DRY" = 1 ] && echo --device cpu) --out "$OUT/profile.txt"

# verdict: the acceptance table (summary.txt) and models.png; then the step table, last, for the reply's tail
"$PY" -m aum.bench.gpu_summary "$OUT" 2>&1 | tee -a "$LOG"
{
  echo "step | status | seconds"
  for s in "${STEPS[@]}"; do echo "$s" | sed 's/|/ | /g'; done
  echo "total $(($(date +%s) - START))s; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
} | tee -a "$LOG"
