"""Issue 8's performance benchmarks: the product beside a bare Channels relay, in the same run.

`python -m bench.perf [figures...] [--json] [--quick]`; see bench/perf/__main__.py.
"""
