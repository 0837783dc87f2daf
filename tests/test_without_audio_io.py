"""`import aum` and the model, ops and bench paths run where soundfile and soxr are not installed (as on a GPU
machine whose image lacks them); reading audio then fails with a one-line UnavailableError that names the
missing package."""

import subprocess
import sys
import textwrap

CHILD = textwrap.dedent("""
    import sys
    for name in ("soundfile", "soxr"):
        sys.modules[name] = None  # any import of them now raises ImportError

    import torch
    torch.set_num_threads(1)
    import aum
    from aum.cli import build_parser
    from aum.bench import fbank as bench_fbank, models as bench_models, scan as bench_scan  # noqa: F401
    from aum.bench import triton as triton_bench  # noqa: F401

    build_parser()
    model = aum.create_model("aum_tiny", num_classes=3, input_frames=32, depth=1).eval()
    feats = aum.fbank(0.1 * torch.randn(2, 16000))
    logits = model(feats[:, :32])
    assert logits.shape == (2, 3), logits.shape
    out = aum.selective_scan(*(torch.randn(1, 4, 9), torch.rand(1, 4, 9), -torch.rand(4, 2),
                               torch.randn(1, 2, 9), torch.randn(1, 2, 9)))
    assert out.shape == (1, 4, 9)
    from aum.errors import UnavailableError

    for call in (lambda: aum.load_audio(aum.__file__), lambda: aum.audio.resample(torch.zeros(100), 8000, 16000)):
        try:
            call()
        except UnavailableError as err:
            print("UnavailableError:", err)
        else:
            raise AssertionError("reading audio without soundfile/soxr should raise UnavailableError")
    print("OK")
""")


def test_aum_imports_and_runs_without_soundfile_and_soxr():
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "OK"
    assert any("soundfile is not installed" in line for line in lines), proc.stdout
    assert any("soxr is not installed" in line for line in lines), proc.stdout
