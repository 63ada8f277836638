"""The bundled Lancaster Sensorimotor Norms (Lynott et al., 2020; CC BY 4.0): 39,707 entries, 11 means.

This module only reads the table; look-up rules live in `lexicon.py`, the OOV regressor in `oov.py`.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from sensoryt5.errors import OptionError

PERCEPTUAL: tuple[str, ...] = ("auditory", "gustatory", "haptic", "interoceptive", "olfactory", "visual")
ACTION: tuple[str, ...] = ("foot_leg", "hand_arm", "head", "mouth", "torso")
SENSORIMOTOR: tuple[str, ...] = PERCEPTUAL + ACTION
DIMENSION_SETS: dict[str, tuple[str, ...]] = {
    "perceptual": PERCEPTUAL,
    "action": ACTION,
    "sensorimotor": SENSORIMOTOR,
}
NORMS_RESOURCE = "resources/norms/Lancaster_sensorimotor.csv.gz"
CITATION = (
    "Lynott, D., Connell, L., Brysbaert, M., Brand, J., & Carney, J. (2020). The Lancaster Sensorimotor Norms: "
    "multidimensional measures of perceptual and action strength for 39,707 English words. Behavior Research "
    "Methods, 52, 1271-1291. doi:10.3758/s13428-019-01316-z (data: https://osf.io/7emr6/, CC BY 4.0)"
)


@dataclass(frozen=True)
class Norms:
    """The norms table: lower-cased entries and their 11 mean ratings (0-5), in `SENSORIMOTOR` order."""

    words: tuple[str, ...]
    values: np.ndarray  # [n_entries, 11] float32
    sha256: str  # of the compressed resource, keys every cache derived from the table

    def column_indices(self, dims: tuple[str, ...]) -> list[int]:
        """Positions of `dims` in the 11 columns."""
        return [SENSORIMOTOR.index(d) for d in dims]


def parse_dims(spec: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Resolve `perceptual`, `action`, `sensorimotor` or a comma list of dimension names (any order kept)."""
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in DIMENSION_SETS:
            return DIMENSION_SETS[key]
        names = [part.strip().lower().replace("-", "_") for part in key.split(",") if part.strip()]
    else:
        names = [str(part).strip().lower().replace("-", "_") for part in spec]
    unknown = [n for n in names if n not in SENSORIMOTOR]
    if unknown or not names:
        raise OptionError(
            f"unknown sensory dimension(s) {unknown or spec!r}; choose from {', '.join(SENSORIMOTOR)} "
            f"or one of {', '.join(DIMENSION_SETS)}"
        )
    if len(set(names)) != len(names):
        raise OptionError(f"sensory dimensions repeated in {spec!r}")
    return tuple(names)


@lru_cache(maxsize=1)
def load_norms() -> Norms:
    """Read the bundled norms (about 60 ms); cached for the life of the process."""
    raw = resources.files("sensoryt5").joinpath(NORMS_RESOURCE).read_bytes()
    lines = gzip.decompress(raw).decode("utf-8").splitlines()
    header = [h.strip('"') for h in lines[0].split(",")]
    if len(header) != 12 or header[0] != "Word":
        raise RuntimeError(f"unexpected header in bundled norms: {header}")
    words: list[str] = []
    cells: list[str] = []
    for line in lines[1:]:
        word, _, rest = line.rpartition('",')
        words.append(word.lstrip('"').lower())
        cells.append(rest)
    values = np.array(",".join(cells).split(","), dtype=np.float32).reshape(len(words), len(SENSORIMOTOR))
    return Norms(words=tuple(words), values=values, sha256=hashlib.sha256(raw).hexdigest())
