"""The Optimum ONNX export of the FP32 model: one cache entry that every ONNX-based family starts from.

Not a family: it registers nothing. ONNX Runtime and OpenVINO both read this export, so it is made once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..recipes import Recipe, ffn_width
from .base import BuildContext, required_versions

OPSET = 17
EXPORT_REQUIRES = ("onnx", "optimum")  # besides torch and transformers, which key every entry
FUSED_OPS = ("Attention", "MultiHeadAttention", "EmbedLayerNormalization", "SkipLayerNormalization",
             "BiasGelu", "FastGelu", "Gelu", "LayerNormalization", "QAttention", "DynamicQuantizeMatMul",
             "MatMulInteger", "QuantizeLinear", "DequantizeLinear")


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

    key = context.cache.key(model=source.fingerprint, step="onnx-export", opset=OPSET,
                            exported_with=required_versions(EXPORT_REQUIRES))
    return context.cache.get_or_build("ort-export", key, export)


def float_matmuls(onnx_path: Path, config, recipe: Recipe) -> list[str]:
    """Names of the MatMul nodes of an ONNX graph that the recipe keeps in float."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    weights = {init.name: tuple(init.dims) for init in graph.initializer}
    width, labels = ffn_width(config), config.num_labels
    kept = []
    for node in graph.node:
        if node.op_type not in ("MatMul", "Gemm"):
            continue
        shapes = [weights[name] for name in node.input if name in weights and len(weights[name]) == 2]
        if ("ffn-down" in recipe.keep_float and shapes and shapes[0][0] == width) or (
                "classifier" in recipe.keep_float and shapes and labels in shapes[0] and shapes[0][0] != width) or (
                "attention-matmuls" in recipe.keep_float and node.op_type == "MatMul" and not shapes):
            kept.append(node.name)
    return kept
