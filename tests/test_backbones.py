"""Backbone families beyond BERT and T5: MPNet, ModernBERT (fused query-key-value projection) and the fallback for
any other encoder (the adapter's own key projection), each from a tiny random checkpoint saved to a folder."""

from __future__ import annotations

import logging

import pytest
import torch
from transformers import (
    AlbertConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    ConvBertConfig,
    GPT2Config,
    ModernBertConfig,
    MPNetConfig,
)

from sensoryt5.modeling import SensoryT5ForSequenceClassification, key_projection_path

VOCAB = 100
CONFIGS = {
    "mpnet": lambda: MPNetConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64, max_position_embeddings=64),
    "modernbert": lambda: ModernBertConfig(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2,
                                           num_attention_heads=2, intermediate_size=64, max_position_embeddings=64,
                                           pad_token_id=0, bos_token_id=1, eos_token_id=2, cls_token_id=1,
                                           sep_token_id=2, global_attn_every_n_layers=1, attention_bias=True),
    "albert": lambda: AlbertConfig(vocab_size=VOCAB, embedding_size=16, hidden_size=32, num_hidden_layers=2,
                                   num_attention_heads=2, intermediate_size=64, max_position_embeddings=64),
    "convbert": lambda: ConvBertConfig(vocab_size=VOCAB, embedding_size=32, hidden_size=32, num_hidden_layers=1,
                                       num_attention_heads=2, intermediate_size=64, max_position_embeddings=64),
}


def backbone_folder(tmp_path, family: str):
    """A randomly initialised backbone of `family`, saved like a downloaded checkpoint."""
    torch.manual_seed(0)
    folder = tmp_path / family
    AutoModel.from_config(CONFIGS[family]()).save_pretrained(folder)
    return folder


def make_batch(batch: int = 3, length: int = 9):
    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(3, VOCAB, (batch, length), generator=generator)
    attention_mask = torch.ones(batch, length, dtype=torch.long)
    attention_mask[1, 6:] = 0
    sensory = 5 * torch.rand(batch, length, 6, generator=generator) * attention_mask[..., None]
    return input_ids, attention_mask, sensory


@pytest.mark.parametrize("family", list(CONFIGS))
@pytest.mark.parametrize("fusion", ["paper", "late", "input"])
def test_family_forward_training_step_and_round_trip(tmp_path, family, fusion):
    torch.manual_seed(0)
    model = SensoryT5ForSequenceClassification.from_backbone(str(backbone_folder(tmp_path, family)), num_labels=3,
                                                             fusion=fusion)
    input_ids, attention_mask, sensory = make_batch()
    logits = model.eval()(input_ids, attention_mask, sensory).logits
    assert logits.shape == (3, 3) and torch.isfinite(logits).all()

    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()(input_ids, attention_mask, sensory, labels=torch.tensor([0, 1, 2])).loss.backward()
    optimizer.step()
    changed = {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}
    assert "classifier.weight" in changed
    assert any(name.startswith("backbone.") for name in changed)
    if fusion == "paper":
        assert "fusion.adapter.query.fc_in.weight" in changed
        key = (f"backbone.{model.key_path}.weight" if model.key_path is not None else "fusion.adapter.key.weight")
        assert key in changed

    model.save_pretrained(tmp_path / "saved")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "saved").eval()
    with torch.no_grad():
        assert torch.equal(loaded(input_ids, attention_mask, sensory).logits,
                           model.eval()(input_ids, attention_mask, sensory).logits)


def test_mpnet_keys_are_its_last_layer_key_projection(tmp_path):
    model = SensoryT5ForSequenceClassification.from_backbone(str(backbone_folder(tmp_path, "mpnet")), num_labels=2)
    assert model.key_path == "encoder.layer.1.attention.attn.k" and model.fusion.adapter.key is None
    hidden = torch.randn(2, 5, 32)
    assert torch.equal(model.backbone_keys(hidden), model.backbone.encoder.layer[1].attention.attn.k(hidden))


def test_modernbert_keys_are_the_key_third_of_wqkv(tmp_path):
    model = SensoryT5ForSequenceClassification.from_backbone(str(backbone_folder(tmp_path, "modernbert")),
                                                             num_labels=2)
    assert model.key_path == "layers.1.attn.Wqkv" and model.fusion.adapter.key is None
    assert model.fusion.adapter.attention.kdim == 32
    attention = model.backbone.layers[1].attn
    hidden = torch.randn(2, 5, 32)
    # ModernBERT's own split: qkv.view(..., 3, heads, head_dim) -> (query, key, value)
    _, key, _ = attention.Wqkv(hidden).view(2, 5, 3, 2, 16).unbind(dim=-3)
    assert torch.allclose(model.backbone_keys(hidden), key.reshape(2, 5, 32), atol=1e-6)


@pytest.mark.parametrize("family", ["albert", "convbert"])
def test_unknown_encoder_gets_the_adapters_own_key_projection_with_a_note(tmp_path, caplog, family):
    folder = backbone_folder(tmp_path, family)
    assert key_projection_path(AutoModel.from_pretrained(folder).config) is None
    with caplog.at_level(logging.WARNING, logger="sensoryt5.modeling"):
        model = SensoryT5ForSequenceClassification.from_backbone(str(folder), num_labels=2)
    assert f"backbone family '{family}' has no known key projection" in caplog.text
    assert model.key_path is None and model.backbone_keys(torch.randn(1, 2, 32)) is None
    assert tuple(model.fusion.adapter.key.weight.shape) == (32, 32)


def test_no_note_when_the_fusion_uses_no_keys(tmp_path, caplog):
    folder = backbone_folder(tmp_path, "albert")
    with caplog.at_level(logging.WARNING, logger="sensoryt5.modeling"):
        SensoryT5ForSequenceClassification.from_backbone(str(folder), num_labels=2, fusion="late")
    assert "no known key projection" not in caplog.text


def test_decoder_only_families_are_refused():
    gpt2 = GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=VOCAB)
    with pytest.raises(ValueError, match=r"unsupported backbone architecture 'gpt2'.*an encoder"):
        key_projection_path(gpt2)
