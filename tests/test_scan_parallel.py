"""The export-friendly scans, "parallel" (log-depth prefix scan) and "loop" (lean per-step loop), against the
reference loop: values and gradients on odd sizes (lengths around powers of two, length 1), reverse, fp64, the
bidirectional dispatch, and that torch.export traces them."""

from __future__ import annotations

import pytest
import torch

from aum.ops import bidirectional_scan, bidirectional_scan_ref, selective_scan, selective_scan_ref
from aum.ops.scan_loop import selective_scan_loop
from aum.ops.scan_parallel import selective_scan_parallel
from test_scan import FP32_TOL, assert_same, make_inputs, run_with_grads


@pytest.mark.parametrize("shape", [(2, 5, 3, 13), (1, 7, 5, 16), (3, 3, 2, 1), (1, 6, 4, 17), (2, 4, 3, 2),
                                   (1, 3, 2, 67)])
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("scan", [selective_scan_parallel, selective_scan_loop])
def test_export_scans_match_reference_values_and_grads(scan, shape, reverse):
    inputs = make_inputs(*shape, seed=sum(shape))
    kwargs = dict(delta_softplus=True, reverse=reverse)
    assert_same(run_with_grads(selective_scan_ref, inputs, **kwargs), run_with_grads(scan, inputs, **kwargs))


@pytest.mark.parametrize("scan", [selective_scan_parallel, selective_scan_loop])
def test_export_scans_fp64_and_optional_inputs(scan):
    inputs = make_inputs(2, 3, 4, 11, dtype=torch.float64, z=False, D=False, bias=False)
    tight = dict(rtol=1e-10, atol=1e-10)
    assert_same(run_with_grads(selective_scan_ref, inputs), run_with_grads(scan, inputs), tol=tight)


@pytest.mark.parametrize("backend", ["parallel", "loop"])
def test_export_backends_through_the_dispatcher(backend):
    inputs = {k: v.detach() for k, v in make_inputs(2, 5, 3, 10).items()}
    torch.testing.assert_close(selective_scan(**inputs, delta_softplus=True, backend=backend),
                               selective_scan_ref(**inputs, delta_softplus=True), **FP32_TOL)
    A_b = -torch.rand(5, 3) - 0.5
    torch.testing.assert_close(bidirectional_scan(**inputs, A_b=A_b, backend=backend),
                               bidirectional_scan_ref(**inputs, A_b=A_b), **FP32_TOL)


@pytest.mark.parametrize("scan", [selective_scan_parallel, selective_scan_loop])
def test_export_scans_trace_with_torch_export(scan):
    class Scan(torch.nn.Module):
        def forward(self, u, delta, B, C):
            A = -torch.arange(1.0, 4.0).repeat(4, 1)
            return scan(u, delta, A, B, C, delta_softplus=True)

    args = (torch.randn(1, 4, 10), torch.randn(1, 4, 10), torch.randn(1, 3, 10), torch.randn(1, 3, 10))
    program = torch.export.export(Scan(), args)
    torch.testing.assert_close(program.module()(*args), Scan()(*args))
