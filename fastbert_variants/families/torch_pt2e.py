"""PT2E static int8: torch.export, X86InductorQuantizer, calibration, convert, then inductor with freezing.

The flow torchao documents for x86 CPUs (torchao.quantization.pt2e): activations and weights both
int8 with ranges calibrated on training texts, fused by inductor into oneDNN int8 kernels. The graph
is exported with dynamic batch and sequence dimensions, so one export serves every cell and the
accuracy gate's dynamically padded batches; inductor then compiles as for every torch.compile variant
(see torch_common.compile_module). Rebuilt from the FP32 weights at load (export and calibration:
seconds), so nothing pickled is stored; the compiled code lives in inductor's cache under the build cache.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..recipes import Recipe
from ..variants import register
from ..variants.base import Shipment, Variant, VariantUnavailable
from ..variants.torch_common import compile_module, compiled_runner, float_linears
from ..variants.torch_shipping import model_files, requirement

EXPORT_BATCH, EXPORT_SEQ_LEN = 2, 16  # above 1 in both, so neither dimension is specialized to a constant
X86_QUANTIZER = "torchao.quantization.pt2e.quantizer.x86_inductor_quantizer"  # registers torchao's x86 lowerings
PROGRAM = "model.pt2"  # what export ships: the converted program, saved by torch.export


@dataclass(frozen=True)
class Pt2eStaticInt8(Variant):
    calibration_samples: int = 128

    def backend_reason(self, device):
        from ..hardware import cpu_isa

        if cpu_isa() in ("arm64", "unknown"):
            return "X86InductorQuantizer targets x86 CPUs with oneDNN; this CPU is not one"
        return None

    def build(self, context):
        started = time.perf_counter()
        model, converted, calibrated, kept = self._converted(context)
        return compiled_runner(self.name, context, model, compile_module(converted, context), started,
                               quantizer="X86InductorQuantizer (default: static, per-channel weights)",
                               calibration_samples=calibrated, kept_float=kept, freezing=True,
                               shapes="exported with dynamic batch and sequence dimensions")

    def shipment(self, context):
        """The converted program, saved by torch.export (its graph and weights; calibration is done), with the config
        and tokenizer, and the lines that compile it as here: torchao's x86 pass and lowerings, freezing."""
        def save(folder):
            import torch

            _, converted, calibrated, _ = self._converted(context)
            example, shapes = self._example(context)
            torch.export.save(torch.export.export(converted, (), example, dynamic_shapes=shapes), folder / PROGRAM)
            return {"calibration_samples": calibrated}

        key = context.cache.key(model=context.source.fingerprint, variant=self.definition(), program=PROGRAM)
        folder, _ = context.cache.get_or_build(f"{self.name}-program", key, save)
        files = {name: path for name, path in model_files(context).items() if not name.endswith(".safetensors")}
        names = list(context.source.input_names)
        return Shipment({**files, PROGRAM: folder / PROGRAM}, (requirement("torch"), requirement("torchao")), f"""\
import torch._inductor.config as inductor_config
from torchao.quantization.pt2e.inductor_passes.x86 import quant_lift_up
from {X86_QUANTIZER} import X86InductorQuantizer  # noqa: F401  (registers the int8 lowerings)
from transformers.modeling_outputs import SequenceClassifierOutput  # noqa: F401  (the type the program returns)
inductor_config.pre_grad_custom_pass, inductor_config.freezing = quant_lift_up, True
model = torch.compile(torch.export.load(f"{{folder}}/{PROGRAM}").module(), dynamic=True)  # compiles at the first call
with torch.inference_mode():
    logits = model(**{{name: torch.from_numpy(batch[name]) for name in {names!r}}}).logits.float().numpy()""")

    @staticmethod
    def _example(context):
        import torch
        from torch.export import Dim

        names = context.source.input_names
        example = {n: torch.ones(EXPORT_BATCH, EXPORT_SEQ_LEN, dtype=torch.int64) for n in names}
        batch, seq = Dim("batch", min=1, max=4096), Dim("seq_len", min=2, max=context.source.max_positions)
        return example, {n: {0: batch, 1: seq} for n in names}

    def _converted(self, context):
        """(the FP32 model, the calibrated and converted int8 program, calibration texts used, layers kept float)."""
        import torch

        try:
            from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
            from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as x86
        except ImportError as exc:
            raise VariantUnavailable(f"this torchao has no PT2E x86 quantizer ({exc})") from None
        import torch._inductor.config as inductor_config
        from torchao.quantization.pt2e.inductor_passes.x86 import quant_lift_up

        # What torchao sets when its x86 quantizer is imported: its pass lifting quant nodes above views, so that
        # inductor fuses them into the attention block's int8 kernels. Set here, it reaches this family's compiles
        # only (compile_state); the lowerings the same import registers are the whole run's (lowering_modules).
        inductor_config.pre_grad_custom_pass = quant_lift_up
        model = context.source.load_model()
        calibration = context.calibration_batches(self.name, self.calibration_samples)
        names = context.source.input_names
        example, shapes = self._example(context)
        exported = torch.export.export(model, (), example, dynamic_shapes=shapes).module()

        quantizer = x86.X86InductorQuantizer().set_global(x86.get_default_x86_inductor_quantization_config())
        kept = float_linears(model, self.recipe)
        for name in kept:
            quantizer.set_module_name_qconfig(name, None)
        prepared = prepare_pt2e(exported, quantizer)
        with torch.no_grad():
            for tokens in calibration:
                prepared(**{n: torch.from_numpy(tokens[n]) for n in names})
        return model, convert_pt2e(prepared), len(calibration), kept


register(Pt2eStaticInt8("torch-pt2e-int8-static", ("cpu",), "torchao.quantization.pt2e",
                        "torch.export + X86InductorQuantizer static int8, calibrated, + torch.compile (freezing)",
                        ("torch", "torchao"), recipe=Recipe("int8", keep_float=("ffn-down",), calibrated=True),
                        compiles=True, lowering_modules=(X86_QUANTIZER,)))
