"""SensoryT5ForSequenceClassification: shapes, masking, gradients, learning, loading and saving, bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    BertConfig,
    BertModel,
    CamembertConfig,
    DebertaV2Config,
    DistilBertConfig,
    ElectraConfig,
    GPT2Config,
    MT5Config,
    RobertaConfig,
    T5Config,
    T5Model,
    UMT5Config,
    XLMRobertaConfig,
)

from sensoryt5.fusion import FUSIONS, LateFusion
from sensoryt5.modeling import (
    SensoryConfig,
    SensoryT5ForSequenceClassification,
    key_projection_path,
    resolve_backbone,
)

TOKEN_FUSIONS = ("paper", "residual", "gate")
N_LABELS = 3


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_t5(**overrides) -> T5Config:
    """A T5 with d_model 64, 2 + 2 layers, 4 heads of 16."""
    values = dict(vocab_size=100, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4, dropout_rate=0.0)
    return T5Config(**{**values, **overrides})


def tiny_bert(**overrides) -> BertConfig:
    """A BERT with hidden size 64, 2 layers, 4 heads."""
    values = dict(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                  max_position_embeddings=64, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    return BertConfig(**{**values, **overrides})


# name -> (backbone config, extra SensoryConfig fields)
BACKBONES = {
    "t5": (tiny_t5, {}),
    "t5-encoder-states": (tiny_t5, {"t5_states": "encoder"}),
    "bert": (tiny_bert, {}),
}


def make_model(backbone: str = "bert", seed: int = 0, **config_kwargs) -> SensoryT5ForSequenceClassification:
    """A randomly initialised model in eval mode."""
    backbone_config, extra = BACKBONES[backbone]
    torch.manual_seed(seed)
    config = SensoryConfig(backbone_config=backbone_config(), num_labels=N_LABELS, **{**extra, **config_kwargs})
    return SensoryT5ForSequenceClassification(config).eval()


def make_batch(seed: int = 0, batch: int = 3, length: int = 9, vocab: int = 100):
    """Right-padded input_ids, attention_mask and sensory (zeros at pads and at ~30% of the real tokens)."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([length, length - 3, 3][:batch])
    attention_mask = (torch.arange(length)[None, :] < lengths[:, None]).long()  # [B, L]
    input_ids = torch.randint(2, vocab, (batch, length), generator=gen) * attention_mask
    valued = (torch.rand(batch, length, 1, generator=gen) > 0.3) & attention_mask.bool()[..., None]
    sensory = 5 * torch.rand(batch, length, 6, generator=gen) * valued  # [B, L, 6]
    return input_ids, attention_mask, sensory


def pad_right(input_ids, attention_mask, sensory, extra: int = 4):
    """The same batch with `extra` more pad positions (id 0, mask 0, sensory zeros)."""
    batch = input_ids.shape[0]
    return (torch.cat([input_ids, input_ids.new_zeros(batch, extra)], dim=1),
            torch.cat([attention_mask, attention_mask.new_zeros(batch, extra)], dim=1),
            torch.cat([sensory, sensory.new_zeros(batch, extra, sensory.shape[-1])], dim=1))


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("backbone", ["t5", "bert"])
def test_output_shapes_and_attention_weights(backbone, fusion):
    model = make_model(backbone, fusion=fusion)
    input_ids, attention_mask, sensory = make_batch()
    out = model(input_ids, attention_mask, sensory, labels=torch.tensor([0, 1, 2]), output_attentions=True)
    assert out.logits.shape == (3, N_LABELS)
    assert out.loss.shape == () and torch.isfinite(out.loss)
    if fusion in TOKEN_FUSIONS:
        assert out.attentions.shape == (3, 9, 9)  # [B, L_query, L_key], averaged over heads
        torch.testing.assert_close(out.attentions.sum(-1), torch.ones(3, 9))
        assert out.attentions.masked_select(~attention_mask.bool()[:, None, :].expand(3, 9, 9)).abs().max() == 0
    else:
        assert out.attentions is None
    assert model(input_ids, attention_mask, sensory).attentions is None
    logits_only = model(input_ids, attention_mask, sensory, return_dict=False)
    assert len(logits_only) == 1
    torch.testing.assert_close(logits_only[0], out.logits)  # need_weights=False takes torch's fused path
    as_tuple = model(input_ids, attention_mask, sensory, labels=torch.tensor([0, 1, 2]), output_attentions=True,
                     return_dict=False)
    assert len(as_tuple) == (3 if fusion in TOKEN_FUSIONS else 2) and torch.equal(as_tuple[1], out.logits)


def test_adapter_heads_and_key_dim():
    assert make_model("bert").fusion.adapter.attention.num_heads == 16  # 64 % 16 == 0
    odd = SensoryT5ForSequenceClassification(SensoryConfig(
        backbone_config=tiny_bert(hidden_size=40, num_attention_heads=4).to_dict(), num_labels=2))
    assert odd.fusion.adapter.attention.num_heads == 4  # 40 % 16 != 0: the backbone's head count
    assert make_model("bert", adapter_heads=8).fusion.adapter.attention.num_heads == 8
    # T5 key projection: n_heads * d_kv = 32 != d_model = 64, handled by kdim
    torch.manual_seed(0)
    narrow = SensoryT5ForSequenceClassification(SensoryConfig(
        backbone_config=tiny_t5(d_kv=8).to_dict(), num_labels=2)).eval()
    assert narrow.key_path == "decoder.block.1.layer.0.SelfAttention.k"
    assert narrow.fusion.adapter.attention.kdim == 32
    input_ids, attention_mask, sensory = make_batch()
    assert narrow(input_ids, attention_mask, sensory).logits.shape == (3, 2)


@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_none_mode_is_pooled_backbone_states_then_head(backbone):
    model = make_model(backbone, sensory_mode="none")
    assert model.fusion is None
    assert not any(name.startswith("fusion") for name in model.state_dict())
    input_ids, attention_mask, sensory = make_batch()
    with torch.no_grad():
        if backbone == "bert":
            hidden = model.backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        elif backbone == "t5":
            hidden = model.backbone(input_ids=input_ids, attention_mask=attention_mask,
                                    decoder_input_ids=torch.zeros_like(input_ids)).last_hidden_state
        else:
            hidden = model.backbone.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask[..., None].float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        expected = pooled @ model.classifier.weight.T + model.classifier.bias
        logits = model(input_ids, attention_mask).logits
        assert torch.equal(model(input_ids, attention_mask, sensory).logits, logits)  # sensory is ignored
    torch.testing.assert_close(logits, expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("backbone", list(BACKBONES))
def test_padding_invariance(backbone, fusion):
    model = make_model(backbone, fusion=fusion)
    batch = make_batch()
    with torch.no_grad():
        logits = model(*batch).logits
        padded = model(*pad_right(*batch)).logits
    assert padded.shape == logits.shape
    assert (padded - logits).abs().max() < 1e-5


def test_adapter_without_key_padding_mask_would_differ():
    """Why the masks matter: the authors' adapter (no key_padding_mask) changes with the amount of padding."""
    model = make_model("bert")
    adapter = model.fusion.adapter
    batch = make_batch()
    input_ids, attention_mask, sensory = pad_right(*batch)
    real = attention_mask.bool()
    with torch.no_grad():
        reference, _ = adapter(*_hidden_and_keys(model, *batch[:2]), batch[2], batch[1], False)
        hidden, keys = _hidden_and_keys(model, input_ids, attention_mask)
        masked, _ = adapter(hidden, keys, sensory, attention_mask, False)
        unmasked, _ = adapter(hidden, keys, sensory, torch.ones_like(attention_mask), False)
    reference_real = reference[batch[1].bool()]
    assert (masked[real] - reference_real).abs().max() < 1e-5
    assert (unmasked[real] - reference_real).abs().max() > 1e-3


def _hidden_and_keys(model, input_ids, attention_mask):
    hidden = model.backbone_states(input_ids, attention_mask)
    return hidden, model.backbone.get_submodule(model.key_path)(hidden)


def test_paper_t5_decoder_states_are_identical_across_positions():
    """A property of the paper's method: an all-pad decoder input gives the same H at every position (in eval
    mode), so token-level fusions cannot carry sensory information there; `late`, `input` and t5_states="encoder"
    can."""
    input_ids, attention_mask, sensory = make_batch()
    other = 5 * torch.rand(sensory.shape, generator=torch.Generator().manual_seed(9)) * attention_mask[..., None]
    with torch.no_grad():
        hidden = make_model("t5").backbone_states(input_ids, attention_mask)
        assert (hidden - hidden[:, :1]).abs().max() < 1e-5
        for fusion in FUSIONS:
            model = make_model("t5", fusion=fusion)
            change = (model(input_ids, attention_mask, sensory).logits
                      - model(input_ids, attention_mask, other).logits).abs().max()
            assert (change < 1e-6) if fusion in TOKEN_FUSIONS else (change > 1e-4), fusion
        encoder_states = make_model("t5-encoder-states")
        change = (encoder_states(input_ids, attention_mask, sensory).logits
                  - encoder_states(input_ids, attention_mask, other).logits).abs().max()
    assert change > 1e-6


@pytest.mark.parametrize("backbone,fusion", [("bert", "paper"), ("t5-encoder-states", "paper"), ("bert", "gate"),
                                             ("bert", "late"), ("t5", "input")])
def test_gradients_reach_adapter_head_and_backbone(backbone, fusion):
    model = make_model(backbone, fusion=fusion).train()
    input_ids, attention_mask, sensory = make_batch()
    model(input_ids, attention_mask, sensory, labels=torch.tensor([0, 1, 2])).loss.backward()
    sensory_layer = {"late": "fusion.statistics_mlp.0.weight", "input": "fusion.query.fc_in.weight"}.get(
        fusion, "fusion.adapter.query.fc_in.weight")
    embeddings = "embeddings.word_embeddings.weight" if backbone == "bert" else "shared.weight"
    checked = [sensory_layer, "classifier.weight", f"backbone.{embeddings}"]
    if fusion in TOKEN_FUSIONS:
        checked += ["fusion.adapter.attention.out_proj.weight", f"backbone.{model.key_path}.weight"]
    params = dict(model.named_parameters())
    for name in checked:
        assert params[name].grad is not None and params[name].grad.abs().sum() > 0, name


def test_gradient_checkpointing_gives_the_same_gradients():
    model = make_model("t5-encoder-states").train()
    batch, labels = make_batch(), torch.tensor([0, 1, 2])
    torch.manual_seed(1)  # the same classifier dropout mask in both passes
    model(*batch, labels=labels).loss.backward()
    expected = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    model.activation_checkpointing_enable()
    assert model.backbone.is_activation_checkpointing
    torch.manual_seed(1)
    model(*batch, labels=labels).loss.backward()
    for name, grad in expected.items():
        torch.testing.assert_close(dict(model.named_parameters())[name].grad, grad, atol=1e-6, rtol=1e-5)


def test_late_fusion_statistics():
    sensory = torch.tensor([[[1.0, 0.0], [3.0, 4.0], [0.0, 0.0], [9.0, 9.0]]])  # last position is padding
    attention_mask = torch.tensor([[1, 1, 1, 0]])
    stats = LateFusion.statistics(sensory, attention_mask)
    torch.testing.assert_close(stats, torch.tensor([[2.0, 2.0, 3.0, 4.0, 2 / 3]]))
    empty = LateFusion.statistics(torch.zeros(1, 4, 2), attention_mask)
    assert torch.equal(empty, torch.zeros(1, 5))


def test_input_fusion_leaves_tokens_without_values_unchanged():
    model = make_model("bert", fusion="input")
    input_ids, attention_mask, sensory = make_batch()
    embeds = model.get_input_embeddings()(input_ids)
    with torch.no_grad():
        fused = model.fusion.embed(embeds, sensory, attention_mask)
    valued = (sensory != 0).any(-1)
    assert torch.equal(fused[~valued], embeds[~valued])
    assert (fused[valued] - embeds[valued]).abs().amax(-1).min() > 0


def fit(model, input_ids, attention_mask, sensory, labels, max_steps: int = 300) -> float:
    """Train with AdamW until every training example is right (or `max_steps`); eval-mode training accuracy."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    for _ in range(max_steps):
        out = model(input_ids, attention_mask, sensory, labels=labels)
        if (model.predict_labels(out.logits) == labels).all():
            break
        optimizer.zero_grad()
        out.loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        return (model.predict_labels(model(input_ids, attention_mask, sensory).logits) == labels).float().mean()


def test_overfits_32_examples():
    input_ids, attention_mask, sensory = (torch.cat(parts)[:32] for parts in zip(*(make_batch(s) for s in range(11))))
    labels = torch.randint(0, N_LABELS, (32,), generator=torch.Generator().manual_seed(1))
    model = make_model("bert", fusion="paper", classifier_dropout=0.0)
    assert fit(model, input_ids, attention_mask, sensory, labels) == 1.0


def test_sensory_branch_alone_can_fit_labels():
    """32 copies of one text whose labels differ only through their sensory vectors: the paper fusion learns them,
    the sensory-free baseline cannot beat the majority class."""
    input_ids, attention_mask, _ = make_batch(batch=1)
    input_ids, attention_mask = input_ids.expand(32, -1), attention_mask.expand(32, -1)
    sensory = 5 * torch.rand(32, 9, 6, generator=torch.Generator().manual_seed(2)) * attention_mask[..., None]
    labels = torch.randint(0, N_LABELS, (32,), generator=torch.Generator().manual_seed(1))
    majority = labels.bincount().max() / 32
    assert fit(make_model("bert", fusion="paper", classifier_dropout=0.0), input_ids, attention_mask, sensory,
               labels) == 1.0
    assert fit(make_model("bert", sensory_mode="none", classifier_dropout=0.0), input_ids, attention_mask, sensory,
               labels, max_steps=50) <= majority


@pytest.mark.parametrize("backbone_class,config", [(T5Model, tiny_t5), (BertModel, tiny_bert)])
def test_from_backbone_loads_a_local_folder(tmp_path, backbone_class, config):
    torch.manual_seed(3)
    saved = backbone_class(config()).eval()
    saved.save_pretrained(tmp_path)
    model = SensoryT5ForSequenceClassification.from_backbone(str(tmp_path), id2label={0: "joy", 1: "fear"},
                                                             fusion="gate").eval()
    assert model.config.backbone_name_or_path == str(tmp_path)
    assert model.config.id2label == {0: "joy", 1: "fear"} and model.config.label2id == {"joy": 0, "fear": 1}
    assert model.config.fusion == "gate"
    reference = saved.state_dict()
    for name, tensor in model.backbone.state_dict().items():
        assert torch.equal(tensor, reference[name]), name
    input_ids, attention_mask, sensory = make_batch()
    assert model(input_ids, attention_mask, sensory).logits.shape == (3, 2)


@pytest.mark.parametrize("backbone", ["t5", "bert"])
def test_save_and_load_round_trip(tmp_path, backbone):
    model = make_model(backbone, fusion="gate", lexicon_config={"oov": "regressor", "k": 5})
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "config.json").is_file()
    assert not list(tmp_path.glob("*.bin"))
    saved = load_file(tmp_path / "model.safetensors")
    if backbone == "t5":  # tied embeddings are saved once
        assert "backbone.shared.weight" in saved and "backbone.encoder.embed_tokens.weight" not in saved
    config = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(config, SensoryConfig)
    assert config.fusion == "gate" and config.lexicon_config == {"oov": "regressor", "k": 5}
    assert config.backbone_config["model_type"] == backbone
    for loader in (SensoryT5ForSequenceClassification, AutoModelForSequenceClassification):
        loaded = loader.from_pretrained(tmp_path).eval()
        assert type(loaded) is SensoryT5ForSequenceClassification
        batch = make_batch()
        with torch.no_grad():
            assert torch.equal(loaded(*batch).logits, model(*batch).logits)
        if backbone == "t5":
            assert loaded.backbone.encoder.embed_tokens.weight is loaded.backbone.shared.weight


def test_bfloat16_round_trip(tmp_path):
    model = make_model("t5").to(torch.bfloat16)
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    assert {p.dtype for p in loaded.parameters()} == {torch.bfloat16}
    batch = make_batch()
    with torch.no_grad():
        assert torch.equal(loaded(*batch).logits, model(*batch).logits)


def test_multi_label_loss_thresholds_and_round_trip(tmp_path):
    model = make_model("bert", problem_type="multi_label_classification", label_thresholds=[0.3, 0.5, 1],
                       class_weights=[1.0, 2.0, 0.5])
    assert model.config.label_thresholds == [0.3, 0.5, 1.0]
    input_ids, attention_mask, sensory = make_batch()
    labels = torch.tensor([[1, 0, 1], [0, 0, 0], [1, 1, 0]], dtype=torch.float)
    out = model(input_ids, attention_mask, sensory, labels=labels)
    expected = F.binary_cross_entropy_with_logits(out.logits, labels, pos_weight=torch.tensor([1.0, 2.0, 0.5]))
    torch.testing.assert_close(out.loss, expected)
    logits = torch.logit(torch.tensor([[0.35, 0.45, 0.99], [0.25, 0.55, 0.5]]))
    assert torch.equal(model.predict_labels(logits), torch.tensor([[1, 0, 0], [0, 1, 0]]))
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert loaded.config.problem_type == "multi_label_classification"
    assert loaded.config.label_thresholds == [0.3, 0.5, 1.0] and loaded.config.class_weights == [1.0, 2.0, 0.5]
    assert torch.equal(loaded.predict_labels(logits), model.predict_labels(logits))
    default = make_model("bert", problem_type="multi_label_classification")
    assert torch.equal(default.predict_labels(logits), torch.tensor([[0, 0, 1], [0, 1, 1]]))


def test_single_label_loss_with_class_weights():
    model = make_model("t5", class_weights=[1.0, 3.0, 0.5])
    input_ids, attention_mask, sensory = make_batch()
    labels = torch.tensor([2, 1, 1])
    out = model(input_ids, attention_mask, sensory, labels=labels)
    torch.testing.assert_close(out.loss, F.cross_entropy(out.logits, labels, weight=torch.tensor([1.0, 3.0, 0.5])))
    assert torch.equal(model.predict_labels(out.logits), out.logits.argmax(-1))


@pytest.mark.parametrize("config", [
    lambda: RobertaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=64, max_position_embeddings=64),
    lambda: XLMRobertaConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             intermediate_size=64, max_position_embeddings=64),
    lambda: CamembertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=64),
    lambda: ElectraConfig(vocab_size=100, embedding_size=32, hidden_size=32, num_hidden_layers=1,
                          num_attention_heads=2, intermediate_size=64, max_position_embeddings=64),
    lambda: DebertaV2Config(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                            intermediate_size=64, max_position_embeddings=64),
    lambda: DistilBertConfig(vocab_size=100, dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                             max_position_embeddings=64),
    lambda: MT5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2),
    lambda: UMT5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=1, num_heads=2),
], ids=["roberta", "xlm-roberta", "camembert", "electra", "deberta-v2", "distilbert", "mt5", "umt5"])
def test_supported_families_build_and_mask_padding(config):
    torch.manual_seed(0)
    model = SensoryT5ForSequenceClassification(SensoryConfig(backbone_config=config().to_dict(), num_labels=2)).eval()
    key = model.backbone.get_submodule(model.key_path)
    assert isinstance(key, torch.nn.Linear)
    batch = make_batch()
    with torch.no_grad():
        logits = model(*batch).logits
        padded = model(*pad_right(*batch)).logits
    assert logits.shape == (3, 2) and (padded - logits).abs().max() < 1e-5


def test_bad_input_raises_clear_errors():
    model = make_model("bert")
    input_ids, attention_mask, sensory = make_batch()
    with pytest.raises(ValueError, match=r"expected \(3, 9, 6\)"):
        model(input_ids, attention_mask, sensory[..., :5])
    with pytest.raises(ValueError, match=r"`sensory` has shape \(3, 8, 6\)"):
        model(input_ids, attention_mask, sensory[:, :8])
    with pytest.raises(ValueError, match="needs `sensory`"):
        model(input_ids, attention_mask)
    with pytest.raises(ValueError, match="unknown fusion 'cross'"):
        SensoryConfig(backbone_config=tiny_bert().to_dict(), fusion="cross")
    with pytest.raises(ValueError, match="unknown sensory_mode 'smell'"):
        SensoryConfig(backbone_config=tiny_bert().to_dict(), sensory_mode="smell")
    with pytest.raises(ValueError, match="unknown t5_states"):
        SensoryConfig(backbone_config=tiny_t5().to_dict(), t5_states="both")
    with pytest.raises(ValueError, match="unknown sensory dimension"):
        SensoryConfig(backbone_config=tiny_bert().to_dict(), sensory_dims=["auditory", "smelly"])
    with pytest.raises(ValueError, match="label_thresholds has 2 values for 3 labels"):
        SensoryConfig(backbone_config=tiny_bert().to_dict(), num_labels=3, label_thresholds=[0.5, 0.5])
    with pytest.raises(ValueError, match="unsupported problem_type 'regression'"):
        SensoryConfig(backbone_config=tiny_bert().to_dict(), problem_type="regression")
    gpt2 = GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=100)
    with pytest.raises(ValueError, match=r"unsupported backbone architecture 'gpt2'.*supported families: t5"):
        SensoryT5ForSequenceClassification(SensoryConfig(backbone_config=gpt2.to_dict(), num_labels=2))
    with pytest.raises(ValueError, match="exactly one of num_labels or id2label"):
        SensoryT5ForSequenceClassification.from_backbone("unused")


def test_sensory_dims_set_the_input_width():
    model = make_model("bert", sensory_dims=["visual", "haptic", "hand_arm"])
    assert model.config.n_sensory == 3
    input_ids, attention_mask, sensory = make_batch()
    assert model(input_ids, attention_mask, sensory[..., :3]).logits.shape == (3, N_LABELS)


@pytest.mark.slow
def test_minilm_backbone_keeps_pretrained_weights_and_round_trips(tmp_path):
    path = resolve_backbone("minilm")
    assert resolve_backbone("some/other-model") == "some/other-model"
    torch.manual_seed(0)
    model = SensoryT5ForSequenceClassification.from_backbone("minilm", num_labels=7).eval()
    assert key_projection_path(model.backbone.config) == ("encoder.layer", "attention.self.key")
    assert model.backbone.config.hidden_size == 384 and model.fusion.adapter.attention.num_heads == 16
    reference = AutoModel.from_pretrained(path).state_dict()
    for name, tensor in model.backbone.state_dict().items():
        assert torch.equal(tensor, reference[name]), name
    model.save_pretrained(tmp_path)
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    input_ids, attention_mask, sensory = make_batch(vocab=30522)
    with torch.no_grad():
        assert torch.equal(loaded(input_ids, attention_mask, sensory).logits,
                           model(input_ids, attention_mask, sensory).logits)
