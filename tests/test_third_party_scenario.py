"""A scenario from outside the package, found as a third party's is (an installed distribution's entry point): its
one module and one test, timed under pytest and reported by the plugin's summary and `fastbert-variants report`,
with no edit anywhere in the package."""

import json
import subprocess
import sys

import pytest

# What a third party writes: one module, one entry point in its distribution's metadata, and one test (TEST, below).
SCENARIO = '''
"""Each variant's latency on the dataset's first four texts, padded to their longest: the lowest median wins."""

from dataclasses import dataclass
from typing import ClassVar

from fastbert_variants.scenarios import Measured, Recommendation, Scenario


@dataclass(frozen=True)
class FourTexts:
    KIND: ClassVar[str] = "four-texts"

    variant: str
    device: str
    median_ms: float

    @property
    def where(self):
        return f"{self.device}-four-texts"

    def to_json(self):
        return {"kind": self.KIND, "format": 2, "variant": self.variant, "device": self.device,
                "median_ms": self.median_ms}

    @classmethod
    def from_json(cls, data):
        return cls(data["variant"], data["device"], data["median_ms"])


@dataclass(frozen=True)
class FourTextsCase:
    SCENARIO: ClassVar[str] = "four-texts"

    device: str
    variant: str

    @property
    def id(self):
        return f"{self.device}-four-texts-{self.variant}"


class FourTextsScenario(Scenario):
    name, record, case_fixture, order = "four-texts", FourTexts, "four_texts_case", 50

    def cases(self, selection, devices):
        from fastbert_variants.variants import pairs

        return [FourTextsCase(d, v) for d, v in pairs(selection.variants, tuple(devices))]

    def measure(self, session, case, timer):
        from fastbert_variants.inputs import padded_batches

        bench = session.workbench
        runner = bench.runner(case.variant, case.device)
        batch = next(padded_batches(bench.source.tokenizer, bench.dataset.texts[:4], 4, 64))
        timed = timer.time(case.id, runner.run, (runner.prepare(batch),), rounds=5)
        return Measured(None if timed is None else session.keep(FourTexts(case.variant, case.device, timed[0] * 1e3)))

    def recommend(self, run):
        best = min(run.of_kind("four-texts"), key=lambda r: r.median_ms, default=None)
        return [] if best is None else [Recommendation(best.where, best.variant, 1.0, (1.0, 1.0), best.median_ms,
                                                       None, {}, result=best)]

    def block(self, run, recommendations):
        return ("four texts: the lowest median", [f"{r.cell}: {r.variant}, {r.median_ms:.2f} ms"
                                                  for r in recommendations])

    def tables(self, run):
        return [("four texts (median of 5 calls)", [["variant", "median ms"], *(
            [r.variant, f"{r.median_ms:.2f}"] for r in run.of_kind("four-texts"))])]


SCENARIO = FourTextsScenario()
'''
TEST = '''
def test_four_texts(benchmark, fastbert, four_texts_case):
    measured = fastbert.measure(four_texts_case, benchmark)
    assert measured.ok, measured.problem
    benchmark.extra_info.update(measured.info)
'''
MODEL = "random:tinybert-4l"  # seeded random weights: nothing to download, seconds to build


@pytest.fixture(scope="module")
def third_party(install_family):
    site, env, cache = install_family("four_texts", SCENARIO, "four_texts", group="fastbert_variants.scenarios")
    (site / "test_four_texts.py").write_text(TEST)
    return site, env, cache


def run(args, env, cwd, timeout=600):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def test_a_scenario_from_outside_is_timed_and_reported(third_party, tmp_path):
    site, env, cache = third_party
    out = tmp_path / "benchmark.json"
    timed = run(["-m", "pytest", str(site / "test_four_texts.py"), "-p", "no:cacheprovider", "--rootdir", str(site),
                 "--fastbert-model", MODEL, "--fastbert-variants", "torch-fp32,torchscript", "--fastbert-devices", "cpu",
                 f"--fastbert-cache-dir={cache}", "--fastbert-threads", "1", "--benchmark-json", str(out)], env, site)
    assert timed.returncode == 0, timed.stdout[-3000:] + timed.stderr[-2000:]
    assert "2 passed" in timed.stdout
    assert "recommended, four texts: the lowest median" in timed.stdout  # the plugin's summary loops over scenarios
    infos = [b["extra_info"] for b in json.loads(out.read_text())["benchmarks"]]
    assert {i["kind"] for i in infos} == {"four-texts"} and {i["variant"] for i in infos} == {"torch-fp32", "torchscript"}
    reported = run(["-m", "fastbert_variants.cli", "report", str(out), "--out", str(tmp_path / "report")], env, site)
    assert reported.returncode == 0, reported.stderr
    assert "recommended, four texts: the lowest median:" in reported.stdout
    assert "## Four texts (median of 5 calls)" in (tmp_path / "report" / "summary.md").read_text()
