"""OpenVINO: the cached ONNX export read by OpenVINO, FP32 or int8 by NNCF post-training quantization.

Built from the export (not through optimum-intel, which would add a second exporter and its own
transformers pin): `ov.Core().read_model`, then for int8 `nncf.quantize(..., model_type=TRANSFORMER)`
calibrated on training texts (NNCF applies SmoothQuant and fast bias correction by itself), saved as
OpenVINO IR (XML + raw weights, nothing pickled) in the build cache. Compiled for the CPU plugin with
the run's threads, one stream and the LATENCY hint; inference precision pinned to the recipe's:
`openvino-fp32` pins f32, because on a CPU with AMX or AVX512_BF16 OpenVINO would otherwise run
"FP32" in bf16; `openvino-bf16` asks for that bf16 (OpenVINO's own default on such CPUs, and its
fastest float path there), from the same IR, and skips on a CPU without native bf16.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import numpy as np

from ..hardware import NO_NATIVE_BF16, cpu_has_native_bf16
from ..recipes import Recipe
from ..variants import register
from ..variants.base import Runner, Shipment, Variant, folder_bytes
from ..variants.onnx_export import exported_fp32, float_matmuls

CALIBRATION_SAMPLES = 128


@dataclass
class OpenVinoRunner(Runner):
    request: object = None
    input_names: tuple[str, ...] = ()

    def prepare(self, batch):
        return {name: np.ascontiguousarray(batch[name]) for name in self.input_names}

    def run(self, prepared):
        return self.request.infer(prepared)[0]

    def to_numpy(self, logits):
        return np.array(logits, dtype=np.float32)  # a copy: the request reuses its output buffer


# OpenVINO's names for a recipe's precision (its INFERENCE_PRECISION_HINT); int8 graphs compute their float parts in f32.
PRECISION_HINT = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}


@dataclass(frozen=True)
class OpenVino(Variant):
    extra: str = "openvino"
    # int8 only: NNCF's SmoothQuant strength for MatMuls; None is NNCF's own default for ModelType.TRANSFORMER (0.95),
    # -1 turns it off.
    smooth_quant_alpha: float | None = None

    def backend_reason(self, device):
        if self.recipe.precision == "bf16" and not cpu_has_native_bf16():
            return f"{NO_NATIVE_BF16}; OpenVINO would emulate it"
        return None

    def artifact(self, context):
        fp32_folder, export_manifest = exported_fp32(context)
        parts = {"calibration": context.calibration(self.name, CALIBRATION_SAMPLES)} if self.recipe.calibrated else {}
        # A float IR is the same whatever precision it is later compiled in: one cache entry for fp32 and bf16.
        name, definition = ((self.name, self.definition()) if self.recipe.precision == "int8"
                            else ("openvino-ir", {"ir": "float, from the ONNX export"}))
        key = context.cache.key(export=export_manifest["key"], variant=definition, **parts)
        folder, manifest = context.cache.get_or_build(name, key, lambda out: self.convert(context, fp32_folder, out))
        return folder, {**manifest, "build_seconds": export_manifest["build_seconds"] + manifest["build_seconds"]}

    def convert(self, context, fp32_folder: Path, out: Path) -> dict:
        import openvino as ov

        model = ov.Core().read_model(str(fp32_folder / "model.onnx"))
        info = {"openvino": ov.__version__}
        if self.recipe.precision == "int8":
            import nncf

            names = [i.get_any_name() for i in model.inputs]
            batches = context.calibration_batches(self.name, CALIBRATION_SAMPLES)
            kept = float_matmuls(fp32_folder / "model.onnx", context.source.config, self.recipe)
            options = {}
            if self.smooth_quant_alpha is not None:
                from nncf.quantization.advanced_parameters import (
                    AdvancedQuantizationParameters,
                    AdvancedSmoothQuantParameters,
                )

                options["advanced_parameters"] = AdvancedQuantizationParameters(
                    smooth_quant_alphas=AdvancedSmoothQuantParameters(matmul=self.smooth_quant_alpha))
            model = nncf.quantize(model, nncf.Dataset([{n: b[n] for n in names} for b in batches]),
                                  model_type=nncf.ModelType.TRANSFORMER, subset_size=len(batches),
                                  ignored_scope=nncf.IgnoredScope(names=kept, validate=False), **options)
            smooth_quant = ("NNCF's default" if self.smooth_quant_alpha is None else
                            "off" if self.smooth_quant_alpha < 0 else f"alpha {self.smooth_quant_alpha}")
            info.update(nncf=nncf.__version__, calibration_samples=len(batches), kept_float=len(kept),
                        smooth_quant=smooth_quant,
                        quantization="nncf.quantize, ModelType.TRANSFORMER (fast bias correction)")
        ov.save_model(model, str(out / "model.xml"), compress_to_fp16=False)
        return info

    def shipment(self, context):
        """The IR under the file names optimum-intel reads (openvino_model.xml/.bin), the export's config and
        tokenizer: what the OpenVINO runtime loads alone, compiled with the inference precision the suite measured."""
        folder, _ = self.artifact(context)
        fp32_folder, _ = exported_fp32(context)
        files = {p.name: p for p in sorted(fp32_folder.iterdir()) if p.is_file() and p.suffix in (".json", ".txt")
                 and p.name != "fastbert-manifest.json"}
        files.update({"openvino_model.xml": folder / "model.xml", "openvino_model.bin": folder / "model.bin"})
        hint = PRECISION_HINT[self.recipe.precision]
        return Shipment(files, (f"openvino=={version('openvino')}",), f"""\
# the precision measured; optimum-intel: OVModelForSequenceClassification.from_pretrained(folder, ov_config=<this dict>)
model = openvino.Core().compile_model(f"{{folder}}/openvino_model.xml", "CPU", {{"INFERENCE_PRECISION_HINT": "{hint}"}})
logits = model({{i.get_any_name(): batch[i.get_any_name()] for i in model.inputs}})[0]""")

    def build(self, context):
        import openvino as ov

        started = time.perf_counter()
        folder, manifest = self.artifact(context)
        config = {"INFERENCE_NUM_THREADS": context.threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY",
                  "INFERENCE_PRECISION_HINT": PRECISION_HINT[self.recipe.precision]}
        compiled = ov.Core().compile_model(str(folder / "model.xml"), "CPU", config)
        names = tuple(i.get_any_name() for i in compiled.inputs)
        return OpenVinoRunner(
            variant=self.name, device=context.device, size_bytes=folder_bytes(folder, "model.*"),
            build_seconds=manifest["build_seconds"],
            info={"threads": context.threads, "ov_config": {k: str(v) for k, v in config.items()},
                  "load_seconds": round(time.perf_counter() - started, 3), **manifest["info"]},
            request=compiled.create_infer_request(), input_names=names,
        )


OPENVINO = ("openvino", "onnx", "optimum")
register(OpenVino("openvino-fp32", ("cpu",), "openvino", "OpenVINO CPU plugin, FP32, from the ONNX export", OPENVINO))
register(OpenVino("openvino-bf16", ("cpu",), "openvino", "OpenVINO CPU plugin, inference precision bf16 (AMX/AVX512_BF16)",
                  OPENVINO, recipe=Recipe("bf16")))
# SmoothQuant off: NNCF's defaults lost the long texts on an Intel Xeon with AMX (6 of 121 flipped to wrong, none back)
# where SmoothQuant off kept both gates at the same speed; FFN down-projections in float were 1.76x slower
# (docs/measurements/recipe-choices.md). NNCF's defaults run beside it, with an advisory gate.
register(OpenVino("openvino-int8", ("cpu",), "openvino + nncf",
                  "NNCF post-training int8 (ModelType.TRANSFORMER, SmoothQuant off), calibrated on training texts",
                  OPENVINO + ("nncf",), recipe=Recipe("int8", calibrated=True, version=3), smooth_quant_alpha=-1))
register(OpenVino("openvino-int8-nncf-default", ("cpu",), "openvino + nncf",
                  "NNCF's defaults: ModelType.TRANSFORMER int8 of every MatMul, SmoothQuant, calibrated on training texts",
                  OPENVINO + ("nncf",), recipe=Recipe("int8", calibrated=True), advisory_gate=True))
