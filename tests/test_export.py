"""fastbert-variants export: a variant as a folder its own runtime loads without this package (#35 part 5)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from fastbert_variants.cli import main
from fastbert_variants.errors import UserError
from fastbert_variants.export import export
from fastbert_variants.inputs import padded_batches

TEXTS = ["I love how fast this is!", "this is awful, it broke again", "meh"]


# Every family's way of shipping: an ONNX graph, an OpenVINO IR, the weights alone (cast at load), a TorchScript
# archive, the weights with the recipe's quantize lines (torch.ao, torchao), a torch.export program compiled at load.
@pytest.mark.parametrize("name", ["ort-int8-dynamic", "openvino-fp32", "torch-fp32", "torchscript", "torch-dynamic-int8",
                                  "torchao-int8-dynamic-eager", "torch-pt2e-int8-static"])
def test_an_exported_variant_classifies_alone_as_the_suites_runner_does(default_bench, tmp_path, name):
    reason = default_bench.variant(name).unavailable_reason("cpu")
    if reason:
        pytest.skip(reason)
    out = tmp_path / name
    written = {p.name for p in export(default_bench, name, out)}
    assert {"classify.py", "README.md", "fastbert-export.json", "config.json", "tokenizer.json"} <= written
    record = json.loads((out / "fastbert-export.json").read_text())
    assert record["variant"] == name and set(record["files"]) == written - {"fastbert-export.json"}
    # The folder's own classify.py in a fresh interpreter: no working directory or PYTHONPATH, this package not imported
    # (transformers imports torch where it is installed, as here; README's check runs it in a venv without torch).
    probe = (f"import json, runpy, sys; sys.argv = ['classify.py', *{TEXTS!r}]; "
             f"found = runpy.run_path({str(out / 'classify.py')!r}, run_name='__main__'); "
             "assert 'fastbert_variants' not in sys.modules, 'it imported this package'; "
             "print(json.dumps(found['logits'].tolist()))")
    done = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    *labels, logits = done.stdout.splitlines()
    batch = next(padded_batches(default_bench.source.tokenizer, TEXTS, len(TEXTS), 512))
    expected = default_bench.runner(name, "cpu")(batch)
    np.testing.assert_allclose(np.array(json.loads(logits)), expected, atol=2e-3)
    id2label = default_bench.source.config.id2label
    assert [line.split("\t")[0] for line in labels] == [id2label[int(i)] for i in expected.argmax(-1)]


def test_what_does_not_export_is_one_line(default_bench, tmp_path):
    with pytest.raises(UserError, match="torch-fp16 cannot be built on this machine .*; export it where it runs"):
        export(default_bench, "torch-fp16", tmp_path / "out")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with pytest.raises(UserError, match="is not an empty folder"):
        export(default_bench, "ort-fp32", tmp_path / "full")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("content", "expected"), [
    (None, "is not a file"),
    ("{", "is not JSON"),
    ('{"kind": "run"}', "is not a recommendation of format 1"),
    ('{"kind": "recommendation", "format": 1, "machine": "m", "model": "default", "threads": 2, "picks": []}',
     "has no pick at cpu-offline-b8; give --where one of: none"),
])
def test_a_bad_recommendation_is_one_line_and_exit_2(tmp_path, capsys, content, expected):
    path = tmp_path / "recommendation.json"
    if content is not None:
        path.write_text(content)
    assert main(["export", "--recommended", str(path), "--where", "cpu-offline-b8", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1
