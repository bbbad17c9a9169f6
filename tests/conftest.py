"""Fixtures for the package's own unit tests: a private cache, so tests build from scratch."""

import pytest


@pytest.fixture(scope="session")
def unit_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fastbert-cache")


@pytest.fixture(scope="session")
def default_bench(unit_cache_dir):
    from fastbert_variants.workbench import Workbench

    return Workbench("default", cache_dir=unit_cache_dir, threads=2)
