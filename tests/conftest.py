"""Fixtures for the package's own unit tests: a private cache, so tests build from scratch."""

import os
import shutil
import socket
import subprocess
import tempfile
import textwrap
from pathlib import Path

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


def _postgres_binaries() -> Path | None:
    for found in [shutil.which("pg_ctl")] + sorted(map(str, Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")))[::-1]:
        if found and Path(found).with_name("initdb").exists():
            return Path(found).parent
    return None


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server of Debian's package, on loopback, for the session (the history and fuzz tests); stopped after it."""
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'fastbert-variants[postgres]')")
    binaries = _postgres_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries (Debian: apt-get install postgresql); .ci/run installs them")
    folder = Path(tempfile.mkdtemp(prefix="fastbert-postgres-"))  # not under pytest's tmp: its parents are root's, 0700
    as_user = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as Debian's postgres user
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = folder / "data"
    subprocess.run([*as_user, binaries / "initdb", "-D", data, "-U", "fbv", "--auth=trust", "-E", "UTF8"],
                   check=True, capture_output=True)
    subprocess.run([*as_user, binaries / "pg_ctl", "-D", data, "-l", folder / "log", "-w", "-o",
                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    yield f"postgresql://fbv@127.0.0.1:{port}/postgres"
    subprocess.run([*as_user, binaries / "pg_ctl", "-D", data, "-m", "fast", "stop"], capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)
