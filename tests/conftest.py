"""Fixtures for the package's own unit tests: a private cache, so tests build from scratch."""

import os
import textwrap

import pytest


@pytest.fixture(scope="session")
def unit_cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fastbert-cache")


@pytest.fixture(scope="session")
def default_bench(unit_cache_dir):
    from fastbert_variants.workbench import Workbench

    return Workbench("default", cache_dir=unit_cache_dir, threads=2)


@pytest.fixture(scope="session")
def install_family(tmp_path_factory):
    """install_family(module, source, entry_point[, group]): a third party's family (or, with group, its scenario) as
    pip would install it, a folder holding the module and its distribution's metadata; (the folder, an environment
    that finds it, an empty cache folder)."""
    return lambda module, source, entry_point, group="fastbert_variants.families": _installed_family(
        tmp_path_factory, module, source, entry_point, group)


def _installed_family(tmp_path_factory, module: str, source: str, entry_point: str, group: str):
    site = tmp_path_factory.mktemp("site")
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    distribution = module.replace("_", "-")
    dist_info = site / f"{module}-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(f"[{group}]\n{entry_point} = {module}\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
           "HF_HUB_OFFLINE": "1", "CI": "1"}
    return site, env, tmp_path_factory.mktemp("cache")
