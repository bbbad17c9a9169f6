"""One family never changes what another computes (#38): a third party's family whose torch.compile backend sets a
process-wide inductor pass, as zentorch's does, then PT2E static int8 in the same process, in either order; and
`build --check` fails on a variant that disagrees with FP32."""

import re
import subprocess
import sys

import pytest

pytest.importorskip("torchao.quantization.pt2e")

# What zentorch's backend does (zentorch 2.13: `config.joint_custom_post_pass = optimize_pass` at every compile,
# never unset), with a pass that rewrites quantized graphs only: it moves their first output by 10. zentorch's own
# rewrites of the PT2E int8 graph gave logits up to 7 away from FP32's.
FAMILY = '''
"""Stand-ins: a backend that leaves a global inductor pass behind, and an FP32 variant that is wrong on purpose."""

import time
from dataclasses import dataclass

import torch
from torch._inductor import config
from torch._inductor.compile_fx import compile_fx
from torch._inductor.custom_graph_pass import CustomGraphPass

from fastbert_variants.variants import Variant, register
from fastbert_variants.variants.torch_common import compile_module, compiled_runner, torch_runner


class MoveQuantizedGraphs(CustomGraphPass):
    def __call__(self, graph):
        if not any("quantize" in str(node.target) for node in graph.nodes):
            return
        output = next(node for node in graph.nodes if node.op == "output")
        first, *rest = output.args[0]
        with graph.inserting_before(output):
            moved = graph.call_function(torch.ops.aten.add.Tensor, (first, 10.0))
        output.args = ((moved, *rest),)

    def uuid(self):
        return "move-quantized-graphs-1"


@torch._dynamo.register_backend
def leaves_a_global_pass(gm, example_inputs):
    config.joint_custom_post_pass = MoveQuantizedGraphs()
    return compile_fx(gm, example_inputs)


@dataclass(frozen=True)
class GlobalPass(Variant):
    def build(self, context):
        started = time.perf_counter()
        model = context.source.load_model()
        forward = compile_module(model, context, backend="leaves_a_global_pass")
        return compiled_runner(self.name, context, model, forward, started)


@dataclass(frozen=True)
class Broken(Variant):
    def build(self, context):
        started = time.perf_counter()
        model = context.source.load_model()
        runner = torch_runner(self.name, context, model, started)
        runner.forward = lambda **tokens: model(**tokens).logits + 3.0  # past FP32's tolerance (1e-3) on every logit
        return runner


register(GlobalPass("toy-global-pass", ("cpu",), "toy-family", "FP32 compiled by a backend that sets a global pass",
                    ("torch",), compiles=True))
register(Broken("toy-broken", ("cpu",), "toy-family", "FP32 with every logit moved by 3", ("torch",)))
'''
MODEL = "random:tinybert-4l"  # seeded random weights: nothing to download, seconds to build
CHECKED = re.compile(r"^(\S+)\s+cpu .*\n\s+checked: max\|logit - fp32\| ([0-9.]+)", re.M)


@pytest.fixture(scope="module")
def stand_in(install_family):
    return install_family("toy_isolation", FAMILY, entry_point="toy_isolation")


def check(stand_in, variants):
    site, env, cache = stand_in
    argv = [sys.executable, "-m", "fastbert_variants.cli", "build", "--check", "--variants", ",".join(variants),
            "--model", MODEL, "--cache-dir", str(cache)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=site, timeout=600)
    return done, {name: float(diff) for name, diff in CHECKED.findall(done.stdout)}


def test_a_setting_a_family_makes_reaches_its_own_compiles_only():
    """In process, without compiling: what code within a family's build or compile sets in inductor's config is back
    as it was afterwards, present again within that family's next compile, and absent from another family's."""
    import torch._inductor.config as inductor_config

    from fastbert_variants.variants.compile_state import compile_settings

    def rewrite(graph):
        return None

    process_pass, process_freezing = inductor_config.joint_custom_post_pass, inductor_config.freezing
    with compile_settings("cpu", "tests.family_a"):
        assert inductor_config.freezing  # the run's settings, within
        inductor_config.joint_custom_post_pass = rewrite  # what zentorch's backend does at each compile
    assert inductor_config.joint_custom_post_pass is process_pass and inductor_config.freezing == process_freezing
    with compile_settings("cpu", "tests.family_b"):
        assert inductor_config.joint_custom_post_pass is process_pass
    with compile_settings("cpu", "tests.family_a") as own:
        assert inductor_config.joint_custom_post_pass is rewrite and own == {"inductor.joint_custom_post_pass": rewrite}
    assert inductor_config.joint_custom_post_pass is process_pass


def test_a_global_compile_pass_reaches_no_other_family_in_either_order(stand_in):
    pt2e = "torch-pt2e-int8-static"
    after, diffs_after = check(stand_in, ["toy-global-pass", pt2e])
    before, diffs_before = check(stand_in, [pt2e, "toy-global-pass"])
    for done in (after, before):
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    # within PT2E's int8 tolerance after the stand-in compiled (its pass would have moved them by 10), and
    # the same figures whichever family compiled first
    assert diffs_after[pt2e] <= 2.5, after.stdout
    assert diffs_after == diffs_before, (after.stdout, before.stdout)


def test_build_check_fails_on_a_variant_past_its_tolerance(stand_in):
    done, diffs = check(stand_in, ["torch-fp32", "toy-broken"])
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    assert diffs["toy-broken"] == pytest.approx(3.0, abs=1e-3) and diffs["torch-fp32"] == 0.0
    assert done.stdout.strip().splitlines()[-1] == (
        "check failed: toy-broken on cpu: logits differ from FP32's by 3.0000 (allowed 0.001) on 16 texts")
