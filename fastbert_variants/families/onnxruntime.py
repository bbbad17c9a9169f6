"""ONNX Runtime variants, built by Optimum: export, ORTOptimizer fusions, ORTQuantizer int8.

Each step is its own cache entry and the next one starts from the cached folder of the one
before: ort-fp32's export is done once for every ONNX variant.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from ..hardware import OPTIMUM_ISA, cpu_isa
from ..recipes import Recipe
from ..variants import register
from ..variants.base import BuildContext, Shipment, Variant, folder_bytes
from ..variants.onnx_export import exported_fp32, float_matmuls, op_counts
from ..variants.ort_session import (
    SESSION_CONFIG,
    IoBoundOrtRunner,
    OrtRunner,
    check_providers,
    graph_file,
    session_options,
)

log = logging.getLogger(__name__)

CALIBRATION_SAMPLES = 128
CALIBRATION_MAX_TOKENS = 128


@dataclass(frozen=True)
class OrtVariant(Variant):
    """An ONNX graph made from the FP32 export by `transform`, run with `providers`."""

    providers: tuple = ("CPUExecutionProvider",)

    def extra_for(self, device):
        return "cuda" if device == "cuda" else "cpu"  # the GPU build of ONNX Runtime, or the CPU one

    def backend_reason(self, device):
        import onnxruntime as ort

        missing = [p for p in self.providers if p not in ort.get_available_providers()]
        if missing:
            return (f"onnxruntime {ort.__version__} has no {', '.join(missing)} "
                    f"(has {', '.join(ort.get_available_providers())}); for CUDA/TensorRT install the GPU build in its "
                    "place: pip uninstall -y onnxruntime && pip install 'fastbert-variants[cuda]'")
        return None

    def transform(self, context: BuildContext, fp32_folder: Path, out: Path) -> dict:
        """Write the variant's graph(s) into `out`; return what to record. Default: nothing to change."""
        return {}

    def cache_parts(self, context: BuildContext) -> dict:
        """What the transform depends on besides the export and the variant's definition."""
        return {}

    def provider_list(self, context: BuildContext, folder: Path) -> list:
        """Providers (with options) for a session on the graph in `folder`, the first one wanted."""
        return list(self.providers)

    caches_at_run = False  # the provider caches what it builds at the first run of a shape (TensorRT's engines)

    def discard_runtime_cache(self, context: BuildContext, folder: Path, error: Exception) -> bool:
        """What the runtime cached on its own beside the graph (TensorRT engines), removed after a failed session
        start so that the retry rebuilds it; False when there is none (the error stands)."""
        return False

    def artifact(self, context):
        """The export, then (for all but ort-fp32) this variant's transform of it; build_seconds covers both."""
        fp32_folder, export_manifest = exported_fp32(context)
        if type(self).transform is OrtVariant.transform:
            return fp32_folder, export_manifest
        key = context.cache.key(export=export_manifest["key"], variant=self.definition(), **self.cache_parts(context))
        folder, manifest = context.cache.get_or_build(self.name, key,
                                                      lambda out: self.transform(context, fp32_folder, out))
        return folder, {**manifest, "build_seconds": export_manifest["build_seconds"] + manifest["build_seconds"]}

    def shipment(self, context):
        """The graph (with its ONNX Runtime config where Optimum wrote one), the config and the tokenizer: what
        onnxruntime alone, or Optimum's ORTModelForSequenceClassification, loads."""
        if context.device != "cpu":
            return None  # a CUDA/TensorRT session's options are the device's: not exported yet
        folder, _ = self.artifact(context)
        graph = graph_file(folder)
        files = {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and (p.suffix == ".json" or p.suffix == ".txt")
                 and p.name != "fastbert-manifest.json"}
        files.update({p.name: p for p in folder.glob(f"{graph.name}*")})  # the graph and any external data beside it
        return Shipment(files, (f"onnxruntime=={version('onnxruntime')}",), f"""\
session = onnxruntime.InferenceSession(f"{{folder}}/{graph.name}", providers=["CPUExecutionProvider"])
types = {{"tensor(int64)": numpy.int64, "tensor(int32)": numpy.int32}}
logits = session.run(None, {{i.name: batch[i.name].astype(types[i.type]) for i in session.get_inputs()}})[0]""")

    def build(self, context):
        import onnxruntime as ort

        started = time.perf_counter()
        folder, manifest = self.artifact(context)
        onnx_file = graph_file(folder)

        def open_session():
            return ort.InferenceSession(str(onnx_file), sess_options=session_options(context.threads),
                                        providers=self.provider_list(context, folder))

        def reopen(error):  # a runtime cache torn by an earlier run: discarded, and a session that rebuilds it
            return open_session() if self.discard_runtime_cache(context, folder, error) else None

        try:
            session = open_session()
        except Exception as exc:  # onnxruntime raises its own Fail/RuntimeException types
            session = reopen(exc)
            if session is None:
                raise
        check_providers(self.providers[0], session.get_providers())
        build_seconds = manifest["build_seconds"]
        runner_class = IoBoundOrtRunner if context.device == "cuda" else OrtRunner
        return runner_class(
            variant=self.name, device=context.device, size_bytes=folder_bytes(folder, "*.onnx*"),
            build_seconds=round(build_seconds, 3),
            info={"threads": context.threads, "onnx_file": onnx_file.name, "providers": session.get_providers(),
                  "session_config": SESSION_CONFIG, "load_seconds": round(time.perf_counter() - started, 3),
                  "io_binding": context.device == "cuda",
                  **manifest["info"]},
            session=session, reopen=reopen if self.caches_at_run else None,
        )


@dataclass(frozen=True)
class OrtOptimized(OrtVariant):
    """ORTOptimizer with Optimum's O-level presets: transformer fusions (Attention, SkipLayerNorm, Gelu)."""

    level: str = "O2"

    def transform(self, context, fp32_folder, out):
        from optimum.onnxruntime import ORTOptimizer
        from optimum.onnxruntime.configuration import AutoOptimizationConfig

        config = getattr(AutoOptimizationConfig, self.level)(for_gpu=context.device == "cuda")
        ORTOptimizer.from_pretrained(fp32_folder, file_names=["model.onnx"]).optimize(config, save_dir=out)
        onnx_file = next(out.glob("*.onnx"))
        return {"optimization_level": self.level, "fused_ops": op_counts(onnx_file)}


@dataclass(frozen=True)
class OrtQuantized(OrtVariant):
    """ORTQuantizer int8 with the AutoQuantizationConfig of this CPU's instruction set.

    `operators` None is Optimum's own default set for the mode; the recipe's float layers are excluded.
    Static: per-channel weight scales (0.73 points lost on the default model, against 1.06 per tensor).
    """

    operators: tuple[str, ...] | None = None

    def backend_reason(self, device):
        if cpu_isa() not in OPTIMUM_ISA:
            return "no int8 instruction set known for this CPU (need avx2, avx512, avx512_vnni, amx or arm64)"
        return super().backend_reason(device)

    def cache_parts(self, context):
        parts = {"isa": OPTIMUM_ISA[cpu_isa()]}
        if self.recipe.calibrated:
            parts["calibration"] = context.calibration(self.name, CALIBRATION_SAMPLES)
        return parts

    def transform(self, context, fp32_folder, out):
        from optimum.onnxruntime import ORTQuantizer
        from optimum.onnxruntime.configuration import AutoCalibrationConfig, AutoQuantizationConfig

        isa, static = OPTIMUM_ISA[cpu_isa()], self.recipe.calibrated
        kept_float = float_matmuls(fp32_folder / "model.onnx", context.source.config, self.recipe)
        qconfig = getattr(AutoQuantizationConfig, isa)(
            is_static=static, per_channel=static, nodes_to_exclude=kept_float,
            operators_to_quantize=list(self.operators) if self.operators else None)
        quantizer = ORTQuantizer.from_pretrained(fp32_folder, file_name="model.onnx")
        ranges, info = None, {"isa": isa, "format": str(qconfig.format), "per_channel": static,
                              "operators": qconfig.operators_to_quantize, "kept_float": len(kept_float)}
        if static:
            dataset = calibration_dataset(context, self.name)
            ranges = quantizer.fit(dataset, AutoCalibrationConfig.minmax(dataset),
                                   onnx_augmented_model_name=out / "augmented.onnx",
                                   operators_to_quantize=qconfig.operators_to_quantize)
            (out / "augmented.onnx").unlink(missing_ok=True)
            info.update(calibration="minmax", calibration_samples=len(dataset))
        quantizer.quantize(qconfig, save_dir=out, calibration_tensors_range=ranges)
        info["ops"] = op_counts(next(out.glob("*.onnx")))
        return info


def calibration_dataset(context: BuildContext, variant: str):
    """Tokenized calibration texts (from the training part, never the scored rows) as a datasets.Dataset."""
    import datasets

    encoded = context.source.tokenizer(context.calibration(variant, CALIBRATION_SAMPLES), truncation=True,
                                       max_length=min(CALIBRATION_MAX_TOKENS, context.source.max_positions),
                                       return_token_type_ids=True)
    return datasets.Dataset.from_dict({name: encoded[name] for name in context.source.input_names})


@dataclass(frozen=True)
class OrtTensorRT(OrtVariant):
    """The FP32 export run by the TensorRT execution provider in FP16; CUDA takes the nodes TensorRT does not.

    TensorRT builds an engine for each new input shape (seconds to minutes) and keeps it, with its timing
    cache, in the build cache beside the export it was built from, so a second run loads it.
    """

    caches_at_run = True

    def engines_folder(self, context, folder) -> Path:
        return context.cache.root / "tensorrt-engines" / folder.name

    def discard_runtime_cache(self, context, folder, error) -> bool:
        """A torn engine (a run killed while TensorRT wrote it) fails a session start, or the first run of its shape
        (TensorRT loads engines lazily): log, remove, rebuild."""
        engines = self.engines_folder(context, folder)
        if not any(engines.glob("*")):
            return False
        log.warning("the TensorRT session failed to start (%s); removing its cached engines %s and rebuilding them",
                    str(error).splitlines()[0][:200] if str(error) else type(error).__name__, engines)
        shutil.rmtree(engines, ignore_errors=True)
        return True

    def provider_list(self, context, folder):
        engines = self.engines_folder(context, folder)
        engines.mkdir(parents=True, exist_ok=True)
        options = {"trt_fp16_enable": True, "trt_engine_cache_enable": True, "trt_engine_cache_path": str(engines),
                   "trt_timing_cache_enable": True, "trt_timing_cache_path": str(engines)}
        return [("TensorrtExecutionProvider", options), "CUDAExecutionProvider"]


ONNX = ("onnxruntime", "optimum", "onnx")
INT8_KEEPING_FFN = Recipe("int8", keep_float=("ffn-down",))
register(OrtVariant("ort-fp32", ("cpu",), "optimum + onnxruntime", "Optimum ONNX export, ONNX Runtime FP32", ONNX))
register(OrtOptimized("ort-optimized", ("cpu",), "optimum ORTOptimizer", "ORTOptimizer O2 transformer fusions", ONNX))
register(OrtQuantized("ort-int8-dynamic", ("cpu",), "optimum ORTQuantizer",
                      "ORTQuantizer dynamic int8, FFN down-projections kept float", ONNX, recipe=INT8_KEEPING_FFN))
# The library's own recipe, as a user of Optimum gets it: every operator of its default set, nothing kept float.
register(OrtQuantized("ort-int8-dynamic-every-matmul", ("cpu",), "optimum ORTQuantizer",
                      "ORTQuantizer dynamic int8 with Optimum's defaults (every MatMul)", ONNX, recipe=Recipe("int8"),
                      advisory_gate=True))
register(OrtQuantized("ort-int8-static", ("cpu",), "optimum ORTQuantizer",
                      "ORTQuantizer static int8 (QDQ), minmax-calibrated on training texts", ONNX,
                      recipe=Recipe("int8", keep_float=("ffn-down", "attention-matmuls"), calibrated=True),
                      operators=("MatMul",)))
register(OrtOptimized("ort-cuda-fp16", ("cuda",), "optimum ORTOptimizer", "ORTOptimizer O4 (FP16) on CUDAExecutionProvider",
                      ONNX, recipe=Recipe("fp16"), providers=("CUDAExecutionProvider",), level="O4"))
register(OrtTensorRT("ort-tensorrt-fp16", ("cuda",), "onnxruntime TensorRT", "TensorRT execution provider, FP16",
                     ONNX, recipe=Recipe("fp16"), providers=("TensorrtExecutionProvider", "CUDAExecutionProvider")))
