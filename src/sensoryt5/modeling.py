"""SensoryT5 (arXiv 2403.15574): a pretrained transformer whose hidden states are fused with per-token sensory
vectors (Lancaster Sensorimotor Norms) through an attention "sensory adapter", then classified.

T5-family backbones (encoder-decoder): the encoder reads `input_ids` with their attention mask, the decoder is fed
pad ids of the same length (the paper's "zero-padding vector"), H is the decoder's last hidden state [B, L, d] and
K the last decoder block's self-attention key projection of H. Encoder-only backbones (BERT, MPNet, ModernBERT
families, ...): H is the last encoder layer's output and K that layer's key projection of H (ModernBERT: the key third
of its fused query-key-value projection). Any other encoder family (one with a masked-LM head in transformers) works
through a fallback: the sensory adapter learns a key projection of its own (d x d) and a note is logged. The sensory
queries attend over (K, V = H) with the
padding masked out (the authors' code masks neither the encoder nor the adapter), the fusion pools one vector per
text, and a linear head classifies it. `sensory_mode="none"` is the paper's baseline: the same model without the
sensory branch.

A property of the paper's T5 path worth knowing: every decoder position gets the same all-pad input, so (without
dropout, i.e. in eval mode) every position ends with the same state H; the adapter's attention then averages identical
values, and the token-level fusions (`paper`, `residual`, `gate`) cannot carry sensory information. The `late` and
`input` fusions, and `t5_states="encoder"` (H from the encoder instead), do not have that limitation.

Importing this module registers the `sensoryt5` model type with `AutoConfig` and
`AutoModelForSequenceClassification`, so that a saved folder loads with either (`import sensoryt5` arranges the same
without importing torch, see `sensoryt5.auto_classes`). A model loaded from a folder with its
`sensory_processor.json` remembers that folder, so that `model(**tokenizer(texts, return_tensors="pt"))` works:
`forward` computes the sensory tensor from `input_ids` with the folder's `SensoryProcessor` when `sensory` is absent.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    PreTrainedConfig,
    PreTrainedModel,
)
from transformers import initialization as init
from transformers.modeling_outputs import SequenceClassifierOutput
from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

from .backbones import resolve_backbone
from .configuration import SensoryConfig
from .fusion import TOKEN_FUSIONS, InputFusion, build_fusion, masked_mean

# Encoder-decoder (T5) families: `config.t5_states` picks the stack whose last block gives H and K.
T5_FAMILIES: tuple[str, ...] = ("t5", "mt5", "umt5")
T5_KEY_PROJECTION = "layer.0.SelfAttention.k"
# Encoder-only families: (list of layers, key projection inside one layer).
ENCODER_KEY_PROJECTION: dict[str, tuple[str, str]] = {
    "bert": ("encoder.layer", "attention.self.key"),
    "roberta": ("encoder.layer", "attention.self.key"),
    "xlm-roberta": ("encoder.layer", "attention.self.key"),
    "camembert": ("encoder.layer", "attention.self.key"),
    "electra": ("encoder.layer", "attention.self.key"),
    "deberta-v2": ("encoder.layer", "attention.self.key_proj"),
    "distilbert": ("transformer.layer", "attention.k_lin"),
    "mpnet": ("encoder.layer", "attention.attn.k"),
    "modernbert": ("layers", "attn.Wqkv"),
}
# Families whose key projection is one fused Linear(d, 3 d) with rows [all query heads; all key heads; all value
# heads]: K is its middle third.
FUSED_QKV_FAMILIES: tuple[str, ...] = ("modernbert",)
SUPPORTED_BACKBONES: tuple[str, ...] = (*T5_FAMILIES, *ENCODER_KEY_PROJECTION)

logger = logging.getLogger(__name__)


def key_projection_path(backbone_config: PreTrainedConfig, t5_states: str = "decoder") -> tuple[str, str] | None:
    """(layer list, key projection inside its last layer) of a backbone; None for another encoder family (one with
    a masked-LM head), whose keys the sensory adapter projects itself; ValueError for anything else."""
    model_type = backbone_config.model_type
    if model_type in T5_FAMILIES:
        return f"{t5_states}.block", T5_KEY_PROJECTION
    if model_type in ENCODER_KEY_PROJECTION:
        return ENCODER_KEY_PROJECTION[model_type]
    if not backbone_config.is_encoder_decoder and model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return None
    raise ValueError(
        f"unsupported backbone architecture {model_type!r} ({', '.join(backbone_config.architectures or [])}); "
        f"a backbone is an encoder (a family with a masked-LM head) or one of the supported families: "
        f"{', '.join(SUPPORTED_BACKBONES)}"
    )


class SensoryT5PreTrainedModel(PreTrainedModel):
    """Weight initialisation and loading conventions of the SensoryT5 models."""

    config_class = SensoryConfig
    base_model_prefix = "backbone"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True

    def _init_weights(self, module: nn.Module) -> None:
        """Adapter and head: normal(0, 0.02) linear weights, zero biases, Xavier attention in-projections."""
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.MultiheadAttention):
            for name in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight"):
                if getattr(module, name) is not None:
                    init.xavier_uniform_(getattr(module, name))
            if module.in_proj_bias is not None:
                init.zeros_(module.in_proj_bias)


class SensoryT5ForSequenceClassification(SensoryT5PreTrainedModel):
    """Backbone -> sensory fusion -> masked mean pool -> dropout -> linear head (see the module docstring).

    `from_backbone(name_or_path, ...)` starts from pretrained backbone weights; `SensoryT5ForSequenceClassification
    (config)` builds the backbone from `config.backbone_config` with random weights (as `from_pretrained(folder)`
    does before loading the saved weights).
    """

    def __init__(self, config: SensoryConfig, backbone: PreTrainedModel | None = None) -> None:
        super().__init__(config)
        if config.backbone_config is None:
            raise ValueError("SensoryConfig.backbone_config is required; use from_backbone() to start from weights")
        backbone_config = AutoConfig.for_model(**config.backbone_config)
        key_projection = key_projection_path(backbone_config, config.t5_states)
        if backbone is None:  # same dtype as the rest of the model (from_pretrained sets the default dtype)
            backbone = AutoModel.from_config(backbone_config, dtype=torch.get_default_dtype())
        if getattr(backbone, "pooler", None) is not None:
            backbone.pooler = None  # H is the token states; an unused pooler would only idle under DDP
        self.backbone = backbone
        self.is_encoder_decoder = bool(self.backbone.config.is_encoder_decoder)
        self.key_path = None  # the backbone's key projection; None: the adapter projects its own keys
        if key_projection is not None:
            layers_path, key_path = key_projection
            last_layer = len(self.backbone.get_submodule(layers_path)) - 1
            self.key_path = f"{layers_path}.{last_layer}.{key_path}"
        d_model = self.backbone.config.hidden_size
        self.fusion = None
        if config.sensory_mode != "none":
            heads = config.adapter_heads or (16 if d_model % 16 == 0 else self.backbone.config.num_attention_heads)
            if d_model % heads:
                raise ValueError(f"adapter_heads={heads} does not divide the backbone's d_model={d_model}")
            key_dim = None
            if self.key_path is not None:
                key_dim = self.backbone.get_submodule(self.key_path).out_features
                if backbone_config.model_type in FUSED_QKV_FAMILIES:
                    key_dim //= 3
            elif config.fusion in TOKEN_FUSIONS:
                logger.warning(
                    "backbone family %r has no known key projection: the sensory adapter learns its own "
                    "(%d x %d, trained with the model)", backbone_config.model_type, d_model, d_model)
            self.fusion = build_fusion(config.fusion, config.n_sensory, config.query_hidden_size, d_model, key_dim,
                                       heads, self.backbone.get_input_embeddings().embedding_dim)
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.classifier = nn.Linear(self.fusion.out_features if self.fusion is not None else d_model,
                                    config.num_labels)
        self.post_init()

    @classmethod
    def from_backbone(cls, name_or_path: str, *, num_labels: int | None = None,
                      id2label: dict[int, str] | None = None, dtype: torch.dtype = torch.float32,
                      **config_kwargs: Any) -> SensoryT5ForSequenceClassification:
        """A new classifier on the pretrained backbone `name_or_path` (hub name, local folder or alias, see
        `resolve_backbone`); adapter and head start from random weights, everything in `dtype`. Pass `num_labels` or
        `id2label`; any other `SensoryConfig` field goes in `config_kwargs`. The paper's setting is
        `from_backbone("t5-large", ...)` (needs the hub or a downloaded folder)."""
        if (num_labels is None) == (id2label is None):
            raise ValueError("pass exactly one of num_labels or id2label")
        path = resolve_backbone(name_or_path)
        backbone_config = AutoConfig.from_pretrained(path)
        key_projection_path(backbone_config)  # unsupported families fail before the weights load
        backbone = AutoModel.from_pretrained(path, config=backbone_config, dtype=dtype)
        if id2label is not None:
            labels = {"id2label": dict(id2label), "label2id": {v: k for k, v in id2label.items()}}
        else:
            labels = {"num_labels": num_labels}
        config = SensoryConfig(backbone_config=backbone.config.to_dict(), backbone_name_or_path=name_or_path,
                               **labels, **config_kwargs)
        return cls(config, backbone=backbone).to(dtype)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | Path, *args: Any, **kwargs: Any) -> Any:
        """`PreTrainedModel.from_pretrained`, remembering a local folder that holds the sensory processor, so that
        `forward` can compute `sensory` from `input_ids` (see `sensory_from_input_ids`)."""
        from .alignment import PROCESSOR_FILE

        loaded = super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
        model = loaded[0] if isinstance(loaded, tuple) else loaded  # (model, info) with output_loading_info
        folder = Path(pretrained_model_name_or_path)
        if (folder / PROCESSOR_FILE).is_file():
            model.sensory_processor_folder = folder
        return loaded

    def sensory_from_input_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The sensory tensor [B, L, D] of `input_ids` [B, L], by the processor saved beside the weights (loaded on
        first use); ValueError when the model was not loaded from such a folder."""
        folder = getattr(self, "sensory_processor_folder", None)
        if folder is None:
            raise ValueError(f"sensory_mode={self.config.sensory_mode!r} needs `sensory` [batch, length, "
                             f"{self.config.n_sensory}]; pass it (see SensoryProcessor), or load the model with "
                             "from_pretrained(folder) from a folder saved with its sensory_processor.json")
        if getattr(self, "_sensory_processor", None) is None:
            from .alignment import SensoryProcessor

            self._sensory_processor = SensoryProcessor.from_pretrained(folder)
        sensory = self._sensory_processor.sensory_tensor(input_ids.detach().cpu().numpy())  # [B, L, D]
        return torch.from_numpy(sensory).to(device=input_ids.device, dtype=self.classifier.weight.dtype)

    def get_input_embeddings(self) -> nn.Module:
        """The backbone's token embeddings."""
        return self.backbone.get_input_embeddings()

    def set_input_embeddings(self, value: nn.Module) -> None:
        """Replace the backbone's token embeddings."""
        self.backbone.set_input_embeddings(value)

    def backbone_states(self, input_ids: torch.LongTensor | None, attention_mask: torch.Tensor,
                        sensory: torch.Tensor | None = None,
                        inputs_embeds: torch.Tensor | None = None) -> torch.Tensor:
        """H [B, L, d]: the backbone's last hidden states (decoder's or encoder's, see `t5_states`), from `input_ids`
        [B, L] or from token embeddings `inputs_embeds` [B, L, e] in their place (what attributions differentiate)."""
        inputs: dict[str, torch.Tensor] = {"attention_mask": attention_mask}
        if isinstance(self.fusion, InputFusion):
            embeds = self.backbone.get_input_embeddings()(input_ids) if inputs_embeds is None else inputs_embeds
            inputs["inputs_embeds"] = self.fusion.embed(embeds, sensory, attention_mask)  # [B, L, e]
        elif inputs_embeds is not None:
            inputs["inputs_embeds"] = inputs_embeds
        else:
            inputs["input_ids"] = input_ids
        if not self.is_encoder_decoder:
            return self.backbone(**inputs).last_hidden_state
        if self.config.t5_states == "encoder":
            return self.backbone.get_encoder()(**inputs).last_hidden_state
        decoder_input_ids = torch.full_like(attention_mask, self.backbone.config.pad_token_id,
                                            dtype=torch.long)  # the zero-padding vector
        return self.backbone(**inputs, decoder_input_ids=decoder_input_ids, use_cache=False).last_hidden_state

    def backbone_keys(self, hidden: torch.Tensor) -> torch.Tensor | None:
        """K [B, L, k]: the backbone's last-layer key projection of H [B, L, d] (the key third of a fused
        query-key-value projection); None when the family's is unknown (the adapter then projects its own)."""
        if self.key_path is None:
            return None
        projection = self.backbone.get_submodule(self.key_path)
        if self.backbone.config.model_type not in FUSED_QKV_FAMILIES:
            return projection(hidden)
        width = projection.out_features // 3
        bias = None if projection.bias is None else projection.bias[width:2 * width]
        return F.linear(hidden, projection.weight[width:2 * width], bias)

    def _check_sensory(self, shape: tuple[int, int], sensory: torch.Tensor | None) -> None:
        """ValueError unless `sensory` is [B, L, n_sensory] for inputs of `shape` [B, L] (or the branch is off)."""
        if self.fusion is None:
            return
        expected = (*shape, self.config.n_sensory)
        if sensory is None or tuple(sensory.shape) != expected:
            found = None if sensory is None else tuple(sensory.shape)
            raise ValueError(f"`sensory` has shape {found}; expected {expected} "
                             f"(input_ids {tuple(shape)} x {self.config.n_sensory} sensory dimensions)")

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        sensory: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_attentions: bool = False,
        return_dict: bool = True,
        token_type_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
    ) -> SequenceClassifierOutput | tuple[torch.Tensor, ...]:
        """Classify `input_ids` [B, L] with `sensory` [B, L, D] (zeros at special and pad tokens).

        Without `sensory` (a tokenizer's output, as `transformers.pipeline` passes it), the sensory tensor is
        computed from `input_ids` by the folder's processor (`sensory_from_input_ids`). `token_type_ids` is accepted
        for the same reason and not used: every text is one segment, as in training.

        `labels`: class ids [B] (single-label) or multi-hot floats [B, C] (multi-label). With `output_attentions`,
        `attentions` is the adapter's attention averaged over heads [B, L_query, L_key] for the token-level fusions
        (`paper`, `residual`, `gate`) and None otherwise. `return_dict=False` gives the tuple (loss, logits,
        attentions) without the entries that are None.

        `inputs_embeds` [B, L, e] replaces `input_ids` by the backbone's token embeddings (as in transformers; used
        by `sensoryt5.attribution`); `sensory` is then required.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("pass exactly one of `input_ids` and `inputs_embeds`")
        given = input_ids if input_ids is not None else inputs_embeds
        shape = tuple(given.shape[:2])  # (B, L)
        if attention_mask is None:
            attention_mask = torch.ones(shape, dtype=torch.long, device=given.device)
        if sensory is None and self.fusion is not None and input_ids is not None:
            sensory = self.sensory_from_input_ids(input_ids)
        self._check_sensory(shape, sensory)
        hidden = self.backbone_states(input_ids, attention_mask, sensory, inputs_embeds)  # [B, L, d]
        weights = None
        if self.fusion is None:
            pooled = masked_mean(hidden, attention_mask)  # [B, d]
        else:
            keys = self.backbone_keys(hidden) if self.fusion.uses_keys else None  # [B, L, k] or None
            pooled, weights = self.fusion(hidden, keys, sensory, attention_mask, output_attentions)
        logits = self.classifier(self.dropout(pooled)) / self.config.temperature  # [B, C], calibrated
        loss = self.loss(logits, labels) if labels is not None else None
        weights = weights if output_attentions else None
        if not return_dict:
            return tuple(value for value in (loss, logits, weights) if value is not None)
        return SequenceClassifierOutput(loss=loss, logits=logits, attentions=weights)

    def loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy (single-label) or binary cross-entropy with logits (multi-label), with class weights."""
        weights = None
        if self.config.class_weights is not None:
            weights = torch.tensor(self.config.class_weights, dtype=logits.dtype, device=logits.device)
        if self.config.problem_type == "multi_label_classification":
            return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), pos_weight=weights)
        return F.cross_entropy(logits, labels.view(-1), weight=weights)

    @torch.no_grad()
    def predict_labels(self, logits: torch.Tensor) -> torch.Tensor:
        """Class ids [B] by argmax (single-label) or 0/1 decisions [B, C] by `label_thresholds` (multi-label)."""
        if self.config.problem_type != "multi_label_classification":
            return logits.argmax(dim=-1)
        thresholds = self.config.label_thresholds or [0.5] * self.config.num_labels
        thresholds = torch.tensor(thresholds, dtype=logits.dtype, device=logits.device)
        return (torch.sigmoid(logits) >= thresholds).long()


AutoConfig.register(SensoryConfig.model_type, SensoryConfig, exist_ok=True)
AutoModelForSequenceClassification.register(SensoryConfig, SensoryT5ForSequenceClassification, exist_ok=True)
