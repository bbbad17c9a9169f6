"""TorchScript: torch.jit.trace then torch.jit.freeze, saved in the cache as a TorchScript archive.

A TorchScript archive holds graph code and tensors, loaded by torch.jit.load, not by the
pickle-based torch.load, so the cache never unpickles Python objects.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass

from ..inputs import exact_length_batch
from ..variants import register
from ..variants.base import Shipment, Variant
from ..variants.torch_common import TorchRunner
from ..variants.torch_shipping import model_files, requirement

TRACE_SEQ_LEN = 32
TRACE_BATCH = 2


@dataclass(frozen=True)
class TracedTorch(Variant):
    def artifact(self, context):
        source = context.source

        def trace(folder):
            import torch
            from transformers import AutoModelForSequenceClassification

            names = source.input_names  # imports the architecture's modelling code: only on a cache miss

            # torchscript=True makes the model return tuples; eager attention traces without shape guards.
            model = AutoModelForSequenceClassification.from_pretrained(
                source.folder, torchscript=True, attn_implementation="eager", use_safetensors=True).eval()
            batch = exact_length_batch(source.tokenizer, ["a sample sentence to trace the graph with"],
                                       TRACE_SEQ_LEN, TRACE_BATCH, source.max_positions)
            example = tuple(torch.from_numpy(batch[n]) for n in names)
            with torch.inference_mode():
                frozen = torch.jit.freeze(torch.jit.trace(model, example, check_trace=False))
            buffer = io.BytesIO()  # written from Python: torch.jit.save to a path aborts in C++ on a full disk (rc 134)
            torch.jit.save(frozen, buffer)
            (folder / "model.ts").write_bytes(buffer.getbuffer())
            return {"traced_at": [TRACE_BATCH, TRACE_SEQ_LEN], "inputs": list(names)}

        key = context.cache.key(model=source.fingerprint, variant=self.definition(), traced_at=[TRACE_BATCH, TRACE_SEQ_LEN])
        return context.cache.get_or_build(self.name, key, trace)

    def shipment(self, context):
        """The TorchScript archive (weights in it), with the config and tokenizer; torch.jit.load runs it."""
        folder, manifest = self.artifact(context)
        files = {name: path for name, path in model_files(context).items() if not name.endswith(".safetensors")}
        names = list(manifest["info"]["inputs"])
        return Shipment({**files, "model.ts": folder / "model.ts"}, (requirement("torch"),), f"""\
module = torch.jit.load(f"{{folder}}/model.ts", map_location="cpu")
with torch.inference_mode():
    logits = module(*(torch.from_numpy(batch[name]) for name in {names!r}))[0].float().numpy()""")

    def build(self, context):
        import torch

        started = time.perf_counter()
        folder, manifest = self.artifact(context)
        module = torch.jit.load(str(folder / "model.ts"), map_location="cpu")
        return TorchRunner(
            variant=self.name, device=context.device, size_bytes=(folder / "model.ts").stat().st_size,
            build_seconds=manifest["build_seconds"], info={"threads": context.threads, "load_seconds":
            round(time.perf_counter() - started, 3), **manifest["info"]},
            forward=module, input_names=tuple(manifest["info"]["inputs"]), positional=True,
        )


register(TracedTorch("torchscript", ("cpu",), "torch.jit", "torch.jit.trace + torch.jit.freeze", ("torch",)))
