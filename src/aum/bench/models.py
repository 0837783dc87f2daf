"""`aum bench models`: time and peak memory vs sequence length for AuM / SSAMBA against AST / SSAST.

Every model gets 16x16 patches without overlap (patch_stride 16, as the AuM paper's AST baseline and the SSAMBA
efficiency claim), 128 mel bins, so tokens = 8 x frames / 16 = frames / 2. Input: random (batch, frames, 128).
Modes: `inference` (eval, inference_mode) and `train` (one step: forward, BCE-with-logits over 527 classes,
backward, Adam). Dtypes: `fp32`, and `bf16` (autocast; CUDA only by default). AST/SSAST run once per attention
implementation (`sdpa`: PyTorch's fused attention; `naive`: softmax(QK^T)V spelled out, the papers' baseline).

Timing: median over --repeats after --warmup runs; CUDA events on a GPU, perf_counter on the CPU. Peak memory:
`torch.cuda.max_memory_allocated` (weights + optimizer state + activations of the row) on CUDA; on the CPU it is
left empty (the process RSS high-water mark cannot be attributed to one row). A CUDA out-of-memory error is caught
and recorded as status `oom`; longer sequences of the same row are then recorded as `skipped` without running.

    aum bench models                                   # the default sweep for this machine (CPU: tiny sizes,
                                                       # still minutes per row: add --depth 2 for a quick look)
    aum bench models --models ssamba_tiny,ssast_tiny --attention naive --tokens 22528 --dtypes fp32 \\
        --modes inference --batch 4                    # the SSAMBA paper's efficiency claim (SPEC.md §3)
    aum bench models --models aum_base,ast_base --tokens 512,4096,16384 --dtypes bf16 --out bench_out
Writes models.csv and models.png (log-log time and memory vs tokens) to --out (a folder, or a .csv path).
"""

from __future__ import annotations

import argparse
import csv
import gc
import logging
import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from aum.bench.timing import time_ms
from aum.errors import UnavailableError

log = logging.getLogger(__name__)

NUM_CLASSES = 527
MEL_BINS = 128
PATCH = 16
GPU_TOKENS = [256, 512, 1024, 2048, 4096, 8192, 16384, 22528, 32768]
CPU_TOKENS = [128, 256, 512]
GPU_MODELS = [f"{fam}_{size}" for fam in ("aum", "ssamba", "ast", "ssast") for size in ("tiny", "small", "base")]
CPU_MODELS = ["aum_tiny", "ssamba_tiny", "ast_tiny", "ssast_tiny"]
ATTENTION_FAMILIES = ("ast", "ssast")
COLUMNS = ["model", "attention", "scan_backend", "device", "dtype", "mode", "batch", "tokens", "frames", "depth",
           "params", "median_ms", "min_ms", "peak_mem_mb", "status"]


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
    parser.add_argument("--attention", type=_csv_list, default=["sdpa", "naive"],
                        help="attention implementations for AST/SSAST (default sdpa,naive)")
    parser.add_argument("--scan-backend", default="auto", help="selective-scan backend of AuM/SSAMBA (default auto)")
    parser.add_argument("--batch", type=int, default=4, help="batch size (default 4)")
    parser.add_argument("--depth", type=int, default=None, help="override the depth of every model (quick runs)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed runs first (default GPU 3, CPU 1)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs; the median is reported (default GPU 10, CPU 3)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--out", default=None, help="folder (gets models.csv + models.png) or a .csv path")
    parser.add_argument("--no-plot", action="store_true", help="CSV only")


def frames_for_tokens(tokens: int) -> int:
    """Frames T giving `tokens` 16x16 patches over 128 mel bins (8 frequency rows): T = 16 * tokens / 8."""
    rows = MEL_BINS // PATCH
    if tokens <= 0 or tokens % rows:
        raise ValueError(f"tokens must be a positive multiple of {rows} (128 mel bins / 16), got {tokens}")
    return PATCH * tokens // rows


def build_model(name: str, frames: int, attention: str, scan_backend: str, depth: int | None):
    from aum.models import create_model

    overrides = dict(num_classes=NUM_CLASSES, input_frames=frames, mel_bins=MEL_BINS, patch_stride=PATCH)
    if attention != "-":
        overrides["attention"] = attention
    else:
        overrides["scan_backend"] = scan_backend
    if depth is not None:
        overrides["depth"] = depth
    return create_model(name, **overrides)


def _step_fn(model, case: Case, batch: int, frames: int, device: torch.device):
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
    from aum.ops.dispatch import resolve_backend

    return resolve_backend(args.scan_backend, device)


def _base_row(case: Case, tokens: int, args, device: torch.device, status: str) -> dict:
    return dict(model=case.model, attention=case.attention, device=device.type, dtype=case.dtype, mode=case.mode,
                batch=args.batch, tokens=tokens, frames=frames_for_tokens(tokens), median_ms="", min_ms="",
                peak_mem_mb="", scan_backend=_scan_backend(case, args, device), depth="", params="", status=status)


def measure_row(case: Case, tokens: int, args, device: torch.device) -> dict:
    row = _base_row(case, tokens, args, device, status="ok")
    frames = row["frames"]
    model = None
    try:
        model = build_model(case.model, frames, case.attention, args.scan_backend, args.depth).to(device)
        row["depth"], row["params"] = model.config.depth, sum(p.numel() for p in model.parameters())
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        times = time_ms(_step_fn(model, case, args.batch, frames, device), device, args.warmup, args.repeats)
        row["median_ms"], row["min_ms"] = round(statistics.median(times), 3), round(min(times), 3)
        if device.type == "cuda":
            row["peak_mem_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    except (RuntimeError, torch.cuda.OutOfMemoryError) as err:
        if not _is_oom(err):
            raise
        row["status"] = "oom"
        log.warning("%s at %d tokens: out of memory", case.label, tokens)
    finally:
        del model
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return row


def _cases(args, device: torch.device) -> list[Case]:
    cuda = device.type == "cuda"
    models = args.models or (GPU_MODELS if cuda else CPU_MODELS)
    dtypes = args.dtypes or (["fp32", "bf16"] if cuda else ["fp32"])
    for bad in set(dtypes) - {"fp32", "bf16"}:
        raise ValueError(f"unknown dtype {bad!r} (fp32, bf16)")
    for bad in set(args.modes) - {"inference", "train"}:
        raise ValueError(f"unknown mode {bad!r} (inference, train)")
    from aum.models import list_models

    for name in models:
        if name not in list_models():
            raise ValueError(f"unknown model {name!r}; registered: {', '.join(list_models())}")
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


def run(args: argparse.Namespace) -> int:
    device = _resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = device.type == "cuda"
    args.warmup = args.warmup if args.warmup is not None else (3 if cuda else 1)
    args.repeats = args.repeats if args.repeats is not None else (10 if cuda else 3)
    if args.batch < 1 or args.repeats < 1 or args.warmup < 0:
        raise ValueError("--batch and --repeats must be positive, --warmup non-negative")
    tokens = sorted(args.tokens or (GPU_TOKENS if device.type == "cuda" else CPU_TOKENS))
    for t in tokens:
        frames_for_tokens(t)  # validate before running anything
    cases = _cases(args, device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"aum bench models: {name}, torch {torch.__version__}, batch {args.batch}, "
          f"{len(cases)} configurations x {len(tokens)} lengths")
    print(f"{'configuration':<40} {'tokens':>7} {'median ms':>11} {'peak MB':>9}  status")
    rows = []
    for case in cases:
        failed = False
        for t in tokens:
            if failed:  # a longer sequence of an OOM configuration: do not spend the time
                row = _base_row(case, t, args, device, status="skipped (oom at a shorter length)")
            else:
                row = measure_row(case, t, args, device)
                failed = row["status"] == "oom"
            rows.append(row)
            print(f"{case.label:<40} {t:>7} {str(row['median_ms']):>11} {str(row['peak_mem_mb']):>9}  {row['status']}")
    csv_path, png_path = _out_paths(args.out)
    if csv_path is not None:
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {csv_path}")
        if not args.no_plot:
            plot(rows, png_path)
            print(f"wrote {png_path}")
    return 0


def plot(rows: list[dict], path: Path) -> None:
    """Log-log time and peak memory vs tokens, one line per configuration (memory panel only with CUDA data)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
