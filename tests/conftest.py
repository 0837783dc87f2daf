"""Shared test setup. One torch thread per test process: CI machines have 2 cores, and torch's intra-op threads
contend with DataLoader workers and the subprocesses some tests start (DDP, resume); results do not depend on it."""

import torch

torch.set_num_threads(1)
