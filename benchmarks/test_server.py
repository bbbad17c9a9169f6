"""The installed suite's tests (fastbert_variants.testsuite), run from this repository."""

from fastbert_variants.testsuite.benchmarks.test_server import *  # noqa: F401,F403
