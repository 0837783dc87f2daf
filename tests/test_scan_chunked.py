"""The export-friendly "chunked" scan against the reference loop: values and gradients on odd sizes, ragged last
chunks, reverse, fp64, the bidirectional dispatch, and that torch.export traces it."""

from __future__ import annotations

import pytest
import torch

from aum.ops import bidirectional_scan, bidirectional_scan_ref, selective_scan, selective_scan_ref
from aum.ops.scan_chunked import selective_scan_chunked
from test_scan import FP32_TOL, assert_same, make_inputs, run_with_grads


@pytest.mark.parametrize("shape,chunk", [((2, 5, 3, 13), 4), ((1, 7, 5, 9), 8), ((3, 3, 2, 1), 8),
                                         ((1, 6, 4, 23), 23), ((2, 4, 3, 17), 64)])
@pytest.mark.parametrize("reverse", [False, True])
def test_chunked_matches_reference_values_and_grads(shape, chunk, reverse):
    inputs = make_inputs(*shape, seed=sum(shape))
    kwargs = dict(delta_softplus=True, reverse=reverse)
    assert_same(run_with_grads(selective_scan_ref, inputs, **kwargs),
                run_with_grads(selective_scan_chunked, inputs, chunk=chunk, **kwargs))


def test_chunked_fp64_and_optional_inputs():
    inputs = make_inputs(2, 3, 4, 11, dtype=torch.float64, z=False, D=False, bias=False)
    tight = dict(rtol=1e-10, atol=1e-10)
    assert_same(run_with_grads(selective_scan_ref, inputs), run_with_grads(selective_scan_chunked, inputs, chunk=3),
                tol=tight)


def test_chunked_backend_through_the_dispatcher():
    inputs = {k: v.detach() for k, v in make_inputs(2, 5, 3, 10).items()}
    torch.testing.assert_close(selective_scan(**inputs, delta_softplus=True, backend="chunked"),
                               selective_scan_ref(**inputs, delta_softplus=True), **FP32_TOL)
    A_b = -torch.rand(5, 3) - 0.5
    torch.testing.assert_close(bidirectional_scan(**inputs, A_b=A_b, backend="chunked"),
                               bidirectional_scan_ref(**inputs, A_b=A_b), **FP32_TOL)


def test_chunked_scan_traces_with_torch_export():
    class Scan(torch.nn.Module):
        def forward(self, u, delta, B, C):
            A = -torch.arange(1.0, 4.0).repeat(4, 1)
            return selective_scan_chunked(u, delta, A, B, C, delta_softplus=True, chunk=4)

    args = (torch.randn(1, 4, 10), torch.randn(1, 4, 10), torch.randn(1, 3, 10), torch.randn(1, 3, 10))
    program = torch.export.export(Scan(), args)
    torch.testing.assert_close(program.module()(*args), Scan()(*args))
