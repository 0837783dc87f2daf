"""`aum bench models`: time and peak memory vs sequence length for AuM / SSAMBA against AST / SSAST.

Every model gets 16x16 patches without overlap (patch_stride 16, as the AuM paper's AST baseline and the SSAMBA
efficiency claim), 128 mel bins, so tokens = 8 x frames / 16 = frames / 2. Input: random (batch, frames, 128).
Modes: `inference` (eval, inference_mode) and `train` (one step: forward, BCE-with-logits over 527 classes,
backward, Adam). Dtypes: `fp32`, and `bf16` (autocast; CUDA only by default). AST/SSAST run once per attention
implementation (`sdpa`: PyTorch's fused attention; `naive`: softmax(QK^T)V spelled out, the papers' baseline).

Timing: median over --repeats after --warmup runs; CUDA events on a GPU, perf_counter on the CPU. On the CPU the
configurations of one length run side by side, alternating run by run, so that load from other processes hits them
alike (ratios within one length are the robust numbers on a shared machine); on CUDA one at a time.
`growth_4x` is the time at these tokens over the time at a quarter of them (linear cost: 4). Peak memory:
`torch.cuda.max_memory_allocated` (weights + optimizer state + activations of the row) on CUDA; on the CPU the
peak of torch's allocations during one extra run, replayed from the profiler's memory events (`--no-memory` skips
it). A CUDA out-of-memory error is caught and recorded as status `oom`; longer sequences of the same row are then
recorded as `skipped` without running.
On the CPU the thread policy of `aum.ops.threads` applies (`--threads N` sets torch and numba to N).

    aum bench models                                   # the default sweep for this machine (CPU: tiny models,
                                                       # 512..16k tokens, minutes: --depth 2 for a quick look)
    aum bench models --models ssamba_tiny,ssast_tiny --attention naive --tokens 22528 --dtypes fp32 \\
        --modes inference --batch 4                    # the SSAMBA paper's efficiency claim (docs/REFERENCE.md §3)
    aum bench models --models aum_base,ast_base --tokens 512,4096,16384 --dtypes bf16 --out bench_out
Writes models.csv and models.png (log-log time and memory vs tokens) to --out (a folder, or a .csv path).
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from aum.bench import write_csv
from aum.bench.scan import cpu_peak_mib
from aum.bench.timing import time_ms
from aum.errors import ConfigError, UnavailableError
from aum.models import create_model, list_models
from aum.ops.dispatch import resolve_backend
from aum.ops.threads import configure_threads
from aum.plotting import pyplot

log = logging.getLogger(__name__)

NUM_CLASSES = 527
MEL_BINS = 128
PATCH = 16
GPU_TOKENS = [256, 512, 1024, 2048, 4096, 8192, 16384, 22528, 32768]
CPU_TOKENS = [512, 1024, 2048, 4096, 8192, 16384]
GPU_MODELS = [f"{fam}_{size}" for fam in ("aum", "ssamba", "ast", "ssast") for size in ("tiny", "small", "base")]
CPU_MODELS = ["aum_tiny", "ssamba_tiny", "ast_tiny"]
ATTENTION_FAMILIES = ("ast", "ssast")
COLUMNS = ["model", "attention", "scan_backend", "device", "dtype", "mode", "batch", "tokens", "frames", "depth",
           "params", "median_ms", "min_ms", "growth_4x", "peak_mem_mb", "status"]


@dataclass(frozen=True)
class Case:
    model: str
    attention: str  # "-" for attention-free models
    dtype: str
    mode: str

    @property
    def label(self) -> str:
        att = "" if self.attention == "-" else f"[{self.attention}]"
        return f"{self.model}{att} {self.mode} {self.dtype}"


def _csv_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", type=_csv_list, default=None,
                        help=f"comma list (default GPU: all 12; CPU: {','.join(CPU_MODELS)})")
    parser.add_argument("--tokens", type=lambda s: [int(x) for x in _csv_list(s)], default=None,
                        help="comma list of patch-token counts, multiples of 8 (default GPU: "
                        f"{','.join(map(str, GPU_TOKENS))}; CPU: {','.join(map(str, CPU_TOKENS))})")
    parser.add_argument("--modes", type=_csv_list, default=["inference", "train"], help="inference,train")
    parser.add_argument("--dtypes", type=_csv_list, default=None, help="fp32,bf16 (default: GPU both, CPU fp32)")
    parser.add_argument("--attention", type=_csv_list, default=None,
                        help="attention implementations for AST/SSAST (default GPU sdpa,naive; CPU sdpa)")
    parser.add_argument("--train-tokens", type=lambda s: [int(x) for x in _csv_list(s)], default=None,
                        help="token counts of the train mode (default GPU: every length; CPU: the shortest)")
    parser.add_argument("--scan-backend", default="auto", help="selective-scan backend of AuM/SSAMBA (default auto)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default GPU 4, CPU 1)")
    parser.add_argument("--depth", type=int, default=None, help="override the depth of every model (quick runs)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed runs first (default GPU 3, CPU 1)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs; the median is reported (default GPU 10, CPU 3)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="CPU threads of torch and numba (0 = all)")
    parser.add_argument("--no-memory", action="store_true", help="CPU: skip the peak-memory run")
    parser.add_argument("--out", default=None, help="folder (gets models.csv + models.png) or a .csv path")
    parser.add_argument("--no-plot", action="store_true", help="CSV only")


def frames_for_tokens(tokens: int) -> int:
    """Frames T giving `tokens` 16x16 patches over 128 mel bins (8 frequency rows): T = 16 * tokens / 8."""
    rows = MEL_BINS // PATCH
    if tokens <= 0 or tokens % rows:
        raise ConfigError(f"tokens must be a positive multiple of {rows} (128 mel bins / 16), got {tokens}")
    return PATCH * tokens // rows


def build_model(name: str, frames: int, attention: str, scan_backend: str, depth: int | None):
    overrides = dict(num_classes=NUM_CLASSES, input_frames=frames, mel_bins=MEL_BINS, patch_stride=PATCH)
    if attention != "-":
        overrides["attention"] = attention
    else:
        overrides["scan_backend"] = scan_backend
    if depth is not None:
        overrides["depth"] = depth
    return create_model(name, **overrides)


def step_fn(model, case: Case, batch: int, frames: int, device: torch.device):
    """The callable to time: one inference forward, or one training step."""
    x = torch.randn(batch, frames, MEL_BINS, device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=case.dtype == "bf16")
    if case.mode == "inference":
        model.eval()

        def infer():
            with torch.inference_mode(), autocast:
                model(x)
        return infer
    model.train()
    y = (torch.rand(batch, NUM_CLASSES, device=device) < 0.05).float()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-5)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = loss_fn(model(x).float(), y)
        loss.backward()
        optimizer.step()
    return train_step


def _is_oom(err: BaseException) -> bool:
    return isinstance(err, torch.cuda.OutOfMemoryError) or "out of memory" in str(err).lower()


def _scan_backend(case: Case, args, device: torch.device) -> str:
    """The selective-scan backend the Mamba models will run ("auto" resolved; an unavailable one raises)."""
    if case.attention != "-":
        return "-"

    return resolve_backend(args.scan_backend, device)


def _base_row(case: Case, tokens: int, args, device: torch.device, status: str) -> dict:
    return dict(model=case.model, attention=case.attention, device=device.type, dtype=case.dtype, mode=case.mode,
                batch=args.batch, tokens=tokens, frames=frames_for_tokens(tokens), median_ms="", min_ms="",
                growth_4x="", peak_mem_mb="", scan_backend=_scan_backend(case, args, device), depth="", params="",
                status=status)


def _prepare(case: Case, tokens: int, args, device: torch.device):
    """(row, step function or None when the model did not fit, model)."""
    row = _base_row(case, tokens, args, device, status="ok")
    try:
        model = build_model(case.model, row["frames"], case.attention, args.scan_backend, args.depth).to(device)
        row["depth"], row["params"] = model.config.depth, sum(p.numel() for p in model.parameters())
        return row, step_fn(model, case, args.batch, row["frames"], device), model
    except (RuntimeError, torch.cuda.OutOfMemoryError) as err:
        _record_oom(err, row, case, tokens)
        return row, None, None


def _record_oom(err: BaseException, row: dict, case: Case, tokens: int) -> None:
    if not _is_oom(err):
        raise err
    row["status"] = "oom"
    log.warning("%s at %d tokens: out of memory", case.label, tokens)


def _peak_mb(fn, device: torch.device) -> float | str:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return round(torch.cuda.max_memory_allocated() / 2**20, 1)

    return round(cpu_peak_mib(fn), 1)


def measure_length(cases: list[Case], tokens: int, args, device: torch.device) -> list[dict]:
    """Rows of every case at one length, timed side by side: one run of each case in turn, round after round."""
    prepared = [_prepare(case, tokens, args, device) for case in cases]
    times: dict[int, list[float]] = {i: [] for i, (_, fn, _) in enumerate(prepared) if fn is not None}
    for round_index in range(args.warmup + args.repeats):
        for i in list(times):
            row, fn, _ = prepared[i]
            try:
                elapsed = time_ms(fn, device, 0, 1)[0]
            except (RuntimeError, torch.cuda.OutOfMemoryError) as err:
                _record_oom(err, row, cases[i], tokens)
                del times[i]
                continue
            if round_index >= args.warmup:
                times[i].append(elapsed)
    for i, samples in times.items():
        row, fn, _ = prepared[i]
        row["median_ms"], row["min_ms"] = round(statistics.median(samples), 3), round(min(samples), 3)
        if device.type == "cuda" or not args.no_memory:
            row["peak_mem_mb"] = _peak_mb(fn, device)
    rows = [row for row, _, _ in prepared]
    del prepared
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def add_growth(rows: list[dict]) -> None:
    """growth_4x = time at t tokens / time at t/4 tokens of the same configuration (when both ran)."""
    index = {(r["model"], r["attention"], r["dtype"], r["mode"], r["tokens"]): r for r in rows if r["status"] == "ok"}
    for (model, attention, dtype, mode, tokens), row in index.items():
        base = index.get((model, attention, dtype, mode, tokens // 4)) if tokens % 4 == 0 else None
        row["growth_4x"] = round(row["median_ms"] / base["median_ms"], 2) if base else ""


def _cases(args, device: torch.device) -> list[Case]:
    cuda = device.type == "cuda"
    models = args.models or (GPU_MODELS if cuda else CPU_MODELS)
    dtypes = args.dtypes or (["fp32", "bf16"] if cuda else ["fp32"])
    for bad in set(dtypes) - {"fp32", "bf16"}:
        raise ConfigError(f"unknown dtype {bad!r} (fp32, bf16)")
    for bad in set(args.modes) - {"inference", "train"}:
        raise ConfigError(f"unknown mode {bad!r} (inference, train)")

    for name in models:
        if name not in list_models():
            raise ConfigError(f"unknown model {name!r}; registered: {', '.join(list_models())}")
    cases = []
    for name in models:
        attentions = args.attention if name.split("_")[0] in ATTENTION_FAMILIES else ["-"]
        cases += [Case(name, att, dt, mode) for att in attentions for dt in dtypes for mode in args.modes]
    return cases


def _resolve_device(choice: str) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise UnavailableError("--device cuda: no CUDA device is available")
    return torch.device("cuda" if choice in ("auto", "cuda") and torch.cuda.is_available() else "cpu")


def _out_paths(out: str | None) -> tuple[Path | None, Path | None]:
    if out is None:
        return None, None
    path = Path(out)
    csv_path = path if path.suffix == ".csv" else path / "models.csv"
    return csv_path, csv_path.with_suffix(".png")


def _defaults(args, device: torch.device) -> list[int]:
    """Fill the device-dependent defaults in args; returns the sorted token counts."""
    cuda = device.type == "cuda"
    if not cuda or args.threads is not None:
        configure_threads(args.threads, args.threads)
    args.warmup = args.warmup if args.warmup is not None else (3 if cuda else 1)
    args.repeats = args.repeats if args.repeats is not None else (10 if cuda else 3)
    args.batch = args.batch if args.batch is not None else (4 if cuda else 1)
    args.attention = args.attention or (["sdpa", "naive"] if cuda else ["sdpa"])
    if args.batch < 1 or args.repeats < 1 or args.warmup < 0:
        raise ConfigError("--batch and --repeats must be positive, --warmup non-negative")
    tokens = sorted(args.tokens or (GPU_TOKENS if cuda else CPU_TOKENS))
    for t in tokens + (args.train_tokens or []):
        frames_for_tokens(t)  # validate before running anything
    args.train_tokens = args.train_tokens or (tokens if cuda else tokens[:1])
    return tokens


def _print_row(row: dict, label: str) -> None:
    print(f"{label:<40} {row['tokens']:>7} {str(row['median_ms']):>11} {str(row['growth_4x']):>9} "
          f"{str(row['peak_mem_mb']):>9}  {row['status']}")


def run(args: argparse.Namespace) -> int:
    device = _resolve_device(args.device)
    tokens = _defaults(args, device)
    cases = _cases(args, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"aum bench models: {name}, torch {torch.__version__}, batch {args.batch}, "
          f"{len(cases)} configurations x {len(tokens)} lengths (train at {','.join(map(str, args.train_tokens))})")
    print(f"{'configuration':<40} {'tokens':>7} {'median ms':>11} {'growth 4x':>9} {'peak MB':>9}  status")
    rows, failed = [], set()
    for t in sorted(set(tokens) | set(args.train_tokens)):
        here = [c for c in cases if (t in args.train_tokens if c.mode == "train" else t in tokens)]
        skipped = [c for c in here if c in failed]
        rows += [_base_row(c, t, args, device, status="skipped (oom at a shorter length)") for c in skipped]
        todo = [c for c in here if c not in failed]
        # CPU: side by side; CUDA: one model resident at a time, so that peak memory is that model's alone
        groups = [todo] if device.type == "cpu" else [[c] for c in todo]
        measured = [row for group in groups for row in measure_length(group, t, args, device)]
        failed |= {Case(r["model"], r["attention"], r["dtype"], r["mode"]) for r in measured if r["status"] == "oom"}
        rows += measured
        add_growth(rows)
        for row in rows[len(rows) - len(here):]:
            _print_row(row, Case(row["model"], row["attention"], row["dtype"], row["mode"]).label)
    rows.sort(key=lambda r: (r["model"], r["attention"], r["dtype"], r["mode"], r["tokens"]))
    csv_path, png_path = _out_paths(args.out)
    if csv_path is not None:
        write_csv(csv_path, rows, COLUMNS)
        if not args.no_plot:
            plot(rows, png_path)
            print(f"wrote {png_path}")
    return 0


def plot(rows: list[dict], path: Path) -> None:
    """Log-log time and peak memory vs tokens, one line per configuration (memory panel only with CUDA data)."""
    plt = pyplot()

    series: dict[str, list[dict]] = {}
    for r in rows:
        if r["status"] == "ok":
            series.setdefault(Case(r["model"], r["attention"], r["dtype"], r["mode"]).label, []).append(r)
    has_mem = any(r["peak_mem_mb"] != "" for rs in series.values() for r in rs)
    fig, axes = plt.subplots(1, 2 if has_mem else 1, figsize=(13 if has_mem else 7, 5), squeeze=False)
    panels = [("median_ms", "time per batch (ms)")] + ([("peak_mem_mb", "peak memory (MB)")] if has_mem else [])
    # colour: model (+ attention); line: solid inference, dashed train; marker: o fp32, s bf16
    names = sorted({label.split(" ")[0] for label in series})
    colours = {n: plt.get_cmap("tab20")(i % 20) for i, n in enumerate(names)}
    for ax, (key, title) in zip(axes[0], panels):
        for label, rs in sorted(series.items()):
            name, mode, dtype = label.split(" ")
            pts = [(r["tokens"], r[key]) for r in rs if r[key] != ""]
            if pts:
                ax.plot(*zip(*pts), color=colours[name], linestyle="-" if mode == "inference" else "--",
                        marker="o" if dtype == "fp32" else "s", label=label)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("tokens (16x16 patches)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][-1].legend(fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
