"""Experiments, not library: the harnesses behind `aum demo ssl` and `aum bench longaudio`.

They reproduce the measurements in BENCHMARKS.md (does SSAMBA pretraining help; how many keywords the timeline
finds in long recordings) by driving the library from the outside: data generation, several training runs and a
report. Nothing in `aum` proper imports them; their functions may change with the experiments.
"""
