"""The suite as an installed pytest plugin: inert in other projects, clash-free, and the same tests both ways."""

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from fastbert_variants import progress
from fastbert_variants.pytest_plugin.options import ALL_OPTIONS, for_pytest

REPO = Path(__file__).resolve().parents[1]
OURS = {name for names, _ in for_pytest(ALL_OPTIONS) for name in names}
BARE = sorted({names[0] for names, _ in ALL_OPTIONS})  # the short names, which the CLI keeps


def pytest_in(folder, *args, env=None):
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=folder, text=True,
                          capture_output=True, timeout=600, env={**os.environ, **(env or {})})


def test_no_option_of_ours_is_another_widely_used_plugins():
    """Against the options of 43 widely used plugins' latest releases (tests/data/plugin_options.json says how)."""
    theirs = json.loads((REPO / "tests/data/plugin_options.json").read_text())
    assert len(theirs["plugins"]) >= 40 and "--profile" in theirs["options"]
    assert not OURS & set(theirs["options"]), {o: theirs["options"][o] for o in OURS & set(theirs["options"])}
    assert all(name.startswith("--fastbert-") for name in OURS) and len(OURS) == len(ALL_OPTIONS)


def test_a_projects_conftest_that_declares_every_short_name_keeps_working(tmp_path):
    """A user's conftest declaring `--model` (common in ML repositories) once stopped every pytest of the environment
    with an INTERNALERROR ("option dest 'model' already used"): our options carry a prefix, as pytest-benchmark's do."""
    theirs = [name for name in BARE if name != "--profile"]  # pytest-profiling's own, where tox installs it
    declared = "\n".join(f"    parser.addoption({name!r}, dest={name.lstrip('-').replace('-', '_')!r}, default='theirs')"
                         for name in theirs)
    (tmp_path / "conftest.py").write_text(f"def pytest_addoption(parser):\n{declared}\n")
    (tmp_path / "test_theirs.py").write_text(
        "def test_their_option_is_theirs(request):\n"
        "    assert request.config.getoption('model') == 'mine' and request.config.getoption('threads') == 'theirs'\n")
    result = pytest_in(tmp_path, "--model", "mine")
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    assert len(BARE) >= 25 and "--model" in BARE and "--profile" in BARE


def test_pytest_profiling_keeps_its_profile_option_beside_ours(tmp_path):
    pytest.importorskip("pytest_profiling", reason="pytest-profiling is not installed (tox installs it)")
    result = pytest_in(tmp_path, "--help")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--fastbert-profile" in result.stdout and "generate profiling information" in result.stdout


def test_another_projects_pytest_is_untouched(tmp_path):
    """The plugin loads in every pytest of the environment: no torch import, no machine facts, no summary of ours."""
    (tmp_path / "test_other.py").write_text(
        "import sys\n"
        "def test_plain(benchmark):\n"
        "    benchmark(sum, range(10))\n"
        "    assert 'torch' not in sys.modules and 'scipy.stats' not in sys.modules\n")
    result = pytest_in(tmp_path, "--benchmark-json", "out.json")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "fastbert-variants:" not in result.stdout  # none of our summary sections
    assert "fastbert_variants" not in json.loads((tmp_path / "out.json").read_text())["machine_info"]


def test_the_installed_suite_and_this_repositorys_run_the_same_tests(tmp_path):
    args = ["--co", "-q", "--fastbert-profile", "quick", "--fastbert-devices", "cpu"]
    installed = pytest_in(tmp_path, "--pyargs", "fastbert_variants.testsuite", *args)
    here = pytest_in(REPO, "benchmarks", "accuracy", *args)
    assert installed.returncode == 0 and here.returncode == 0, installed.stdout[-2000:] + here.stdout[-2000:]

    def tests(output: str) -> list[str]:
        return sorted(line.split("/")[-1] for line in output.splitlines() if "::" in line)

    assert tests(installed.stdout) == tests(here.stdout) and len(tests(here.stdout)) > 100


def test_progress_draws_below_the_current_line_then_erases_itself_and_returns_the_cursor():
    read, write = os.pipe()
    progress.enable(write, column=lambda: 7)
    try:
        assert list(progress.bar(range(5), total=5, desc="scoring")) == [0, 1, 2, 3, 4]
    finally:
        progress.disable()
        os.close(write)
    with os.fdopen(read, newline="") as drawn:
        out = drawn.read()
    assert out.startswith("\n\r") and "scoring" in out  # one line down, then the bar
    assert out.endswith("\r\x1b[K\x1b[1A\x1b[8G")  # erased; up to pytest's line, after its 7 characters
    assert list(progress.bar(range(3))) == [0, 1, 2]  # disabled: the items, nothing drawn


TICKING_TEST = """
import time
from fastbert_variants import progress

def test_slow_step():
    with progress.activity("building something slow"):
        time.sleep(1.5)
"""


def _on_a_terminal(folder, *args) -> str:
    """A child pytest whose stdout and stderr are a pseudo-terminal, as in a user's shell; what the terminal got."""
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    child = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=folder,
                             stdin=secondary, stdout=secondary, stderr=secondary, env={**env, "TERM": "xterm"})
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    child.wait(timeout=120)
    os.close(primary)
    return b"".join(chunks).decode(errors="replace")


def test_progress_shows_on_a_terminal_and_not_under_q_nor_in_a_log(tmp_path):
    (tmp_path / "test_ticking.py").write_text(TICKING_TEST)
    shown = _on_a_terminal(tmp_path)
    assert "building something slow" in shown and "\x1b[1A" in shown and "1 passed" in shown
    assert "building something slow" not in _on_a_terminal(tmp_path, "-q")
    logged = pytest_in(tmp_path)  # pipes, as in CI
    assert logged.returncode == 0 and "building something slow" not in logged.stdout + logged.stderr


def test_a_platform_without_fcntl_still_runs_pytest_with_the_plugin_installed(tmp_path):
    """Windows has no fcntl: the plugin, which every pytest of the environment loads, once imported it at start
    (cache.py) and so stopped every pytest there from starting. filelock locks portably."""
    (tmp_path / "test_theirs.py").write_text("def test_theirs():\n    assert True\n")
    code = ("import sys; sys.modules['fcntl'] = None  # what `import fcntl` meets where there is none\n"
            "import pytest; sys.exit(pytest.main(['-p', 'no:cacheprovider']))")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, text=True, capture_output=True, timeout=300)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    assert "fastbert-variants-" in done.stdout  # pytest's header: the plugin was loaded, not left out


def test_library_messages_name_pytests_options_and_an_alias_its_option():
    from fastbert_variants.pytest_plugin.options import in_pytest_words

    assert in_pytest_words("pass --model DIR or --model-id X; --cache-dir=D; --benchmark-json; --fastbert-seq-lens 8") \
        == "pass --fastbert-model DIR or --fastbert-model X; --fastbert-cache-dir=D; --benchmark-json; --fastbert-seq-lens 8"
