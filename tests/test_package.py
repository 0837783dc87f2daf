import subprocess
import sys

import aum


def test_version_and_lazy_exports():
    assert aum.__version__
    assert callable(aum.selective_scan)


def test_cli_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "aum", "--help"], capture_output=True, text=True, check=True)
    for name in ("train", "predict", "bench"):
        assert name in out.stdout
