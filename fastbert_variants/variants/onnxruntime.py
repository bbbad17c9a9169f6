"""ONNX Runtime variants, built by Optimum: export, ORTOptimizer fusions, ORTQuantizer int8.

Each step is its own cache entry and the next one starts from the cached folder of the one
before: ort-fp32's export is done once for every ONNX variant.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..hardware import cpu_isa
from . import register
from .base import BuildContext, Runner, Variant, folder_bytes

log = logging.getLogger(__name__)

OPSET = 17
# Part of every cache key here: bump it when a build step changes, so old entries are not reused.
RECIPE = 3
CALIBRATION_SAMPLES = 128
CALIBRATION_MAX_TOKENS = 128
FUSED_OPS = ("Attention", "MultiHeadAttention", "EmbedLayerNormalization", "SkipLayerNormalization",
             "BiasGelu", "FastGelu", "Gelu", "LayerNormalization", "QAttention", "DynamicQuantizeMatMul",
             "MatMulInteger", "QuantizeLinear", "DequantizeLinear")
# Idle ORT worker threads spin for a while after each run and steal the cores from whatever runs
# next (torch in an interleaved comparison); spinning off keeps the comparison fair.
SESSION_CONFIG = {"session.intra_op.allow_spinning": "0"}


@dataclass
class OrtRunner(Runner):
    session: object = None

    def prepare(self, batch):
        return {i.name: np.ascontiguousarray(batch[i.name]) for i in self.session.get_inputs()}

    def run(self, prepared):
        return self.session.run(None, prepared)[0]

    def to_numpy(self, logits):
        return np.asarray(logits, dtype=np.float32)


def op_counts(onnx_path: Path) -> dict[str, int]:
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    counts = Counter(node.op_type for node in graph.node)
    return {op: counts[op] for op in FUSED_OPS if counts[op]}


def exported_fp32(context: BuildContext) -> tuple[Path, dict]:
    """The cached Optimum export of the FP32 model (model.onnx + config.json)."""
    source = context.source

    def export(folder: Path):
        from optimum.exporters.onnx import main_export

        main_export(str(source.folder), output=folder, task="text-classification", opset=OPSET,
                    do_validation=False, trust_remote_code=source.trust_remote_code)
        return {"opset": OPSET, "ops": op_counts(folder / "model.onnx")}

    key = context.cache.key(model=source.fingerprint, step="onnx-export", opset=OPSET)
    return context.cache.get_or_build("ort-export", key, export)


def session_options(threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    for key, value in SESSION_CONFIG.items():
        options.add_session_config_entry(key, value)
    return options


@dataclass(frozen=True)
class OrtVariant(Variant):
    """An ONNX graph made from the FP32 export by `transform`, run with `providers`."""

    providers: tuple = ("CPUExecutionProvider",)

    def backend_reason(self, device):
        import onnxruntime as ort

        missing = [p for p in self.providers if p not in ort.get_available_providers()]
        if missing:
            return (f"onnxruntime {ort.__version__} has no {', '.join(missing)} "
                    f"(has {', '.join(ort.get_available_providers())}); install onnxruntime-gpu for CUDA/TensorRT")
        return None

    def transform(self, context: BuildContext, fp32_folder: Path, out: Path) -> dict:
        """Write the variant's graph(s) into `out`; return what to record. Default: nothing to change."""
        return {}

    def cache_parts(self, context: BuildContext) -> dict:
        return {}

    def provider_list(self, context: BuildContext) -> list:
        return list(self.providers)

    def artifact(self, context):
        """The export, then (for all but ort-fp32) this variant's transform of it; build_seconds covers both."""
        fp32_folder, export_manifest = exported_fp32(context)
        if type(self).transform is OrtVariant.transform:
            return fp32_folder, export_manifest
        key = context.cache.key(export=export_manifest["key"], variant=self.name, recipe=RECIPE,
                                **self.cache_parts(context))
        folder, manifest = context.cache.get_or_build(self.name, key,
                                                      lambda out: self.transform(context, fp32_folder, out))
        return folder, {**manifest, "build_seconds": export_manifest["build_seconds"] + manifest["build_seconds"]}

    def build(self, context):
        import onnxruntime as ort

        started = time.perf_counter()
        folder, manifest = self.artifact(context)
        onnx_file = next(p for p in sorted(folder.glob("*.onnx")) if "augmented" not in p.name)
        session = ort.InferenceSession(str(onnx_file), sess_options=session_options(context.threads),
                                       providers=self.provider_list(context))
        build_seconds = manifest["build_seconds"]
        return OrtRunner(
            variant=self.name, device=context.device, size_bytes=folder_bytes(folder, "*.onnx*"),
            build_seconds=round(build_seconds, 3),
            info={"threads": context.threads, "onnx_file": onnx_file.name, "providers": session.get_providers(),
                  "session_config": SESSION_CONFIG, "load_seconds": round(time.perf_counter() - started, 3),
                  **manifest["info"]},
            session=session,
        )


@dataclass(frozen=True)
class OrtOptimized(OrtVariant):
    """ORTOptimizer with Optimum's O-level presets: transformer fusions (Attention, SkipLayerNorm, Gelu)."""

    level: str = "O2"

    def cache_parts(self, context):
        return {"level": self.level}

    def transform(self, context, fp32_folder, out):
        from optimum.onnxruntime import ORTOptimizer
        from optimum.onnxruntime.configuration import AutoOptimizationConfig

        config = getattr(AutoOptimizationConfig, self.level)(for_gpu=context.device == "cuda")
        ORTOptimizer.from_pretrained(fp32_folder, file_names=["model.onnx"]).optimize(config, save_dir=out)
        onnx_file = next(out.glob("*.onnx"))
        return {"optimization_level": self.level, "fused_ops": op_counts(onnx_file)}


@dataclass(frozen=True)
class OrtQuantized(OrtVariant):
    """ORTQuantizer int8 with the AutoQuantizationConfig of this CPU's instruction set."""

    static: bool = False

    def backend_reason(self, device):
        if cpu_isa() == "unknown":
            return "no int8 instruction set known for this CPU (need avx2, avx512, avx512_vnni or arm64)"
        return super().backend_reason(device)

    def cache_parts(self, context):
        parts = {"isa": cpu_isa(), "static": self.static}
        if self.static:
            parts["calibration"] = calibration_texts(context)
        return parts

    def transform(self, context, fp32_folder, out):
        from optimum.onnxruntime import ORTQuantizer
        from optimum.onnxruntime.configuration import AutoCalibrationConfig, AutoQuantizationConfig

        isa = cpu_isa()
        kept_float = matmuls_kept_float(fp32_folder / "model.onnx", context, self.static)
        # Static: per-channel weight scales (0.73 points lost on the default model, against 1.06 per tensor).
        qconfig = getattr(AutoQuantizationConfig, isa)(
            is_static=self.static, per_channel=self.static, nodes_to_exclude=kept_float,
            operators_to_quantize=["MatMul"] if self.static else None)
        quantizer = ORTQuantizer.from_pretrained(fp32_folder, file_name="model.onnx")
        ranges, info = None, {"isa": isa, "format": str(qconfig.format), "per_channel": self.static,
                              "operators": qconfig.operators_to_quantize, "kept_float": len(kept_float)}
        if self.static:
            dataset = calibration_dataset(context)
            ranges = quantizer.fit(dataset, AutoCalibrationConfig.minmax(dataset),
                                   onnx_augmented_model_name=out / "augmented.onnx",
                                   operators_to_quantize=qconfig.operators_to_quantize)
            (out / "augmented.onnx").unlink(missing_ok=True)
            info.update(calibration="minmax", calibration_samples=len(dataset))
        quantizer.quantize(qconfig, save_dir=out, calibration_tensors_range=ranges)
        info["ops"] = op_counts(next(out.glob("*.onnx")))
        return info


def matmuls_kept_float(onnx_path: Path, context: BuildContext, static: bool) -> list[str]:
    """MatMul nodes that int8 leaves in float, because one activation scale ruins them.

    Always: the feed-forward down-projections, whose input is the GELU output with its outliers
    (dynamic int8 of every MatMul lost 1.40 points on the default model, this 0.29). Static int8
    also leaves the activation x activation products (attention scores, scores x values): no
    weight to quantize, and a range that moves with every input. Optimum's static default
    (every operator) lost 13.5 points; this recipe with per-channel weights, 0.73.
    """
    import onnx

    from .torch_int8 import intermediate_size

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    weights = {init.name: tuple(init.dims) for init in graph.initializer}
    ffn_width = intermediate_size(context.source.config)
    kept = []
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        weight_shapes = [weights[name] for name in node.input if name in weights]
        ffn_down = bool(weight_shapes) and len(weight_shapes[0]) == 2 and weight_shapes[0][0] == ffn_width
        if ffn_down or (static and not weight_shapes):
            kept.append(node.name)
    return kept


def calibration_texts(context: BuildContext) -> list[str]:
    texts = context.calibration_texts[:CALIBRATION_SAMPLES]
    if not texts:
        from ..errors import UserError

        raise UserError("ort-int8-static needs calibration texts, and this dataset has no training part; "
                        "give --calibration-split (hub datasets) or more rows (local files)")
    return texts


def calibration_dataset(context: BuildContext):
    """Tokenized calibration texts (from the training part, never the scored rows) as a datasets.Dataset."""
    import datasets

    encoded = context.source.tokenizer(calibration_texts(context), truncation=True,
                                       max_length=min(CALIBRATION_MAX_TOKENS, context.source.max_positions),
                                       return_token_type_ids=True)
    return datasets.Dataset.from_dict({name: encoded[name] for name in context.source.input_names})


@dataclass(frozen=True)
class OrtTensorRT(OrtVariant):
    def provider_list(self, context):
        engines = context.cache.root / "tensorrt-engines"
        engines.mkdir(parents=True, exist_ok=True)
        options = {"trt_fp16_enable": True, "trt_engine_cache_enable": True, "trt_engine_cache_path": str(engines)}
        return [("TensorrtExecutionProvider", options), "CUDAExecutionProvider"]


ONNX = ("onnxruntime", "optimum", "onnx")
register(OrtVariant("ort-fp32", ("cpu",), "optimum + onnxruntime", "Optimum ONNX export, ONNX Runtime FP32", ONNX))
register(OrtOptimized("ort-optimized", ("cpu",), "optimum ORTOptimizer", "ORTOptimizer O2 transformer fusions", ONNX))
register(OrtQuantized("ort-int8-dynamic", ("cpu",), "optimum ORTQuantizer", "ORTQuantizer dynamic int8", ONNX))
register(OrtQuantized("ort-int8-static", ("cpu",), "optimum ORTQuantizer",
                      "ORTQuantizer static int8 (QDQ), minmax-calibrated on training texts", ONNX, static=True))
register(OrtOptimized("ort-cuda-fp16", ("cuda",), "optimum ORTOptimizer", "ORTOptimizer O4 (FP16) on CUDAExecutionProvider",
                      ONNX, providers=("CUDAExecutionProvider",), level="O4"))
register(OrtTensorRT("ort-tensorrt-fp16", ("cuda",), "onnxruntime TensorRT", "TensorRT execution provider, FP16",
                     ONNX, providers=("TensorrtExecutionProvider", "CUDAExecutionProvider")))
