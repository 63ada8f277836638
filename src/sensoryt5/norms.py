"""The bundled Lancaster Sensorimotor Norms (Lynott et al., 2020; CC BY 4.0): 39,707 entries, 11 means.

This module reads the table and defines `Norms`, the form every word table takes (the Lancaster norms, the NRC
Emotion Lexicon or a user's CSV, see `lexicons.py`); look-up rules live in `lexicon.py`, the OOV regressor in
`oov.py`.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache
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


LANCASTER = "lancaster"
ALL_DIMS = "all"  # every column of a lexicon, for any lexicon


@dataclass(frozen=True)
class Norms:
    """A word table: lower-cased entries and their ratings, one column per dimension (for the Lancaster norms the
    11 mean ratings, 0-5, in `SENSORIMOTOR` order)."""

    words: tuple[str, ...]
    values: np.ndarray  # [n_entries, n_columns] float32
    sha256: str  # of the file the table was read from; keys every cache derived from the table
    name: str = LANCASTER  # `lancaster`, `nrc-emolex` or the CSV file's name
    dims: tuple[str, ...] = SENSORIMOTOR  # column names
    default_dims: tuple[str, ...] = PERCEPTUAL  # the dimensions used when none are chosen
    dimension_sets: dict[str, tuple[str, ...]] | None = None  # named subsets (`perceptual`, ...), besides `all`
    citation: str = CITATION

    @cached_property
    def value_range(self) -> tuple[float, float]:
        """Lowest and highest value in the table (the Lancaster ratings: 0 and 5 by construction)."""
        if self.name == LANCASTER:
            return 0.0, 5.0
        return float(self.values.min(initial=0.0)), float(self.values.max(initial=1.0))

    def column_indices(self, dims: tuple[str, ...]) -> list[int]:
        """Positions of `dims` among the table's columns."""
        return [self.dims.index(d) for d in dims]


def _dim_name(part: object) -> str:
    """A dimension name as the tables spell it: lower case, `_` for `-`."""
    return str(part).strip().lower().replace("-", "_")


def parse_dims(spec: str | tuple[str, ...] | list[str] | None, norms: Norms | None = None) -> tuple[str, ...]:
    """Resolve a dimension choice against `norms` (default: the Lancaster norms, without reading them): None for the
    table's default dimensions, `all`, a named set (`perceptual`, `action`, `sensorimotor` for Lancaster) or a
    comma list of column names (any order kept). OptionError names the choices."""
    names_of = norms.dims if norms is not None else SENSORIMOTOR
    sets = dict(norms.dimension_sets or {}) if norms is not None else dict(DIMENSION_SETS)
    sets[ALL_DIMS] = names_of
    if spec is None:
        return norms.default_dims if norms is not None else PERCEPTUAL
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in sets:
            return tuple(sets[key])
        names = [_dim_name(part) for part in key.split(",") if part.strip()]
    else:
        names = [_dim_name(part) for part in spec]
    unknown = [n for n in names if n not in names_of]
    if unknown or not names:
        lexicon = norms.name if norms is not None else LANCASTER
        raise OptionError(
            f"unknown sensory dimension(s) {unknown or spec!r} for the {lexicon} lexicon; choose from "
            f"{', '.join(names_of)} or one of {', '.join(sets)}"
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
    return Norms(words=tuple(words), values=values, sha256=hashlib.sha256(raw).hexdigest(),
                 dimension_sets=DIMENSION_SETS)
