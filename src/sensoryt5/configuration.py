"""`SensoryConfig`: the configuration of `SensoryT5ForSequenceClassification` (model type `sensoryt5`).

Kept apart from `sensoryt5.modeling` so that registering the model type with `AutoConfig` (see
`sensoryt5.auto_classes`) does not load the model code.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from huggingface_hub.dataclasses import strict
from transformers.configuration_utils import PreTrainedConfig

from .errors import check_choice
from .norms import LANCASTER, PERCEPTUAL, parse_dims

SENSORY_MODES: tuple[str, ...] = ("norms", "random", "shuffled", "none")
PROBLEM_TYPES: tuple[str, ...] = ("single_label_classification", "multi_label_classification")
T5_STATES: tuple[str, ...] = ("decoder", "encoder")
# The fusions `sensoryt5.fusion` builds, named here so that the configuration loads without torch.
FUSIONS: tuple[str, ...] = ("paper", "residual", "gate", "late", "input")


@strict
class SensoryConfig(PreTrainedConfig):
    r"""Configuration of `SensoryT5ForSequenceClassification`.

    backbone_config (`dict`): the backbone's configuration (`to_dict()`, with its `model_type`; a config object is
        converted), so that a saved folder rebuilds the backbone offline.
    backbone_name_or_path (`str`, *optional*): where the pretrained backbone came from (informational).
    sensory_mode (`str`, defaults to `"norms"`): `"norms"`, `"random"` or `"shuffled"` (how the caller built the
        sensory vectors; all three switch the sensory branch on) or `"none"` (the paper's baseline: no sensory branch).
    sensory_dims (`list[str]`, defaults to the six perceptual dimensions): names of the sensory columns (of the
        Lancaster norms, checked, unless `lexicon_config` names another lexicon).
    fusion (`str`, defaults to `"paper"`): `"paper"` (A * H), `"residual"` (H + A), `"gate"` (H * sigmoid(W[H; A])),
        `"late"` (pooled H with sentence-level sensory statistics) or `"input"` (sensory added to input embeddings).
    t5_states (`str`, defaults to `"decoder"`): for encoder-decoder backbones, the stack whose last hidden states
        are H: `"decoder"` (the paper; position-independent states, see the module docstring) or `"encoder"`.
    query_hidden_size (`int`, defaults to 128): hidden width of the sensory query MLP.
    adapter_heads (`int`, *optional*): heads of the adapter attention; `None`: 16 when d_model is divisible by 16,
        else the backbone's head count.
    problem_type (`str`, defaults to `"single_label_classification"`): or `"multi_label_classification"`.
    label_thresholds (`list[float]`, *optional*): per-label decision thresholds of a multi-label model (0.5 each).
    class_weights (`list[float]`, *optional*): per-class cross-entropy weights (single-label) or per-label
        `pos_weight` of the binary cross-entropy (multi-label).
    temperature (`float`, defaults to 1.0): the model divides its logits by it (temperature scaling fitted on dev
        at the end of training, see `sensoryt5.calibration`; 1.0: uncalibrated).
    max_length (`int`, defaults to 128): token length the processor truncates to (stored, not used by the model).
    lexicon_config (`dict`): the lexicon/OOV settings the processor was built with (stored, not used by the model).
    classifier_dropout (`float`, defaults to 0.1): dropout before the classification head.
    """

    model_type = "sensoryt5"

    backbone_config: dict[str, Any] | PreTrainedConfig | None = None
    backbone_name_or_path: str | None = None
    sensory_mode: str = "norms"
    sensory_dims: list[str] | tuple[str, ...] = field(default_factory=lambda: list(PERCEPTUAL))
    fusion: str = "paper"
    t5_states: str = "decoder"
    query_hidden_size: int = 128
    adapter_heads: int | None = None
    label_thresholds: list[float | int] | None = None
    class_weights: list[float | int] | None = None
    temperature: float | int = 1.0
    max_length: int = 128
    lexicon_config: dict[str, Any] = field(default_factory=dict)
    classifier_dropout: float | int = 0.1

    def __post_init__(self, **kwargs: Any) -> None:
        """Normalise lists and check every option, raising ValueError on a bad one."""
        check_choice("sensory_mode", self.sensory_mode, SENSORY_MODES)
        check_choice("fusion", self.fusion, FUSIONS)
        check_choice("t5_states", self.t5_states, T5_STATES)
        if isinstance(self.backbone_config, PreTrainedConfig):
            self.backbone_config = self.backbone_config.to_dict()
        if self.backbone_config is not None and "model_type" not in self.backbone_config:
            raise ValueError("backbone_config must include the backbone's model_type")
        if self.lexicon_config.get("lexicon", LANCASTER) == LANCASTER:
            self.sensory_dims = list(parse_dims(list(self.sensory_dims)))
        elif not self.sensory_dims or len(set(self.sensory_dims)) != len(self.sensory_dims):
            raise ValueError(f"sensory_dims must be distinct column names of the lexicon, got {self.sensory_dims}")
        else:
            self.sensory_dims = [str(d) for d in self.sensory_dims]
        super().__post_init__(**kwargs)
        if self.problem_type is None:
            self.problem_type = "single_label_classification"
        if self.problem_type not in PROBLEM_TYPES:
            raise ValueError(f"unsupported problem_type {self.problem_type!r}; choose from {', '.join(PROBLEM_TYPES)}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        self.temperature = float(self.temperature)
        for name in ("label_thresholds", "class_weights"):
            values = getattr(self, name)
            if values is not None:
                if len(values) != self.num_labels:
                    raise ValueError(f"{name} has {len(values)} values for {self.num_labels} labels")
                setattr(self, name, [float(v) for v in values])

    @property
    def n_sensory(self) -> int:
        """Number of sensory dimensions D."""
        return len(self.sensory_dims)
