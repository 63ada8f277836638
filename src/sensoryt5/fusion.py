"""Sensory fusion modules: how per-token sensory vectors are combined with a backbone's hidden states.

Every fusion pools backbone states `hidden` [B, L, d] into one vector per text [B, out_features], masking padding
(`attention_mask` [B, L], 1 = real token). The token-level fusions (`paper`, `residual`, `gate`) let every token's
sensory query attend over the states with `SensoryAttention` and return its head-averaged weights; `late` and
`input` have no token-level attention and return `None` for them.
"""

from __future__ import annotations

import torch
from torch import nn

from sensoryt5.configuration import FUSIONS
from sensoryt5.errors import OptionError


def masked_mean(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of `hidden` [B, L, d] over the positions where `attention_mask` [B, L] is 1; returns [B, d]."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # [B, L, 1]
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


def has_value(sensory: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Attended tokens whose sensory row [B, L, D] is not all zeros; returns a bool mask [B, L]."""
    return (sensory != 0).any(dim=-1) & attention_mask.bool()


class SensoryQuery(nn.Module):
    """The sensory query path: Linear(D, query_hidden) -> ReLU -> Linear(query_hidden, d_model), per token."""

    def __init__(self, n_sensory: int, query_hidden_size: int, d_model: int) -> None:
        super().__init__()
        self.fc_in = nn.Linear(n_sensory, query_hidden_size)
        self.fc_out = nn.Linear(query_hidden_size, d_model)

    def forward(self, sensory: torch.Tensor) -> torch.Tensor:
        """Map sensory vectors [B, L, D] to queries [B, L, d_model]."""
        return self.fc_out(torch.relu(self.fc_in(sensory)))


class SensoryAttention(nn.Module):
    """Sensory queries attend over the backbone: Q = SensoryQuery(sensory), K = key projection of H, V = H.

    `key_dim` is the width of the backbone's key projection; `None` (a backbone whose key projection is unknown)
    gives the adapter a key projection of its own, Linear(d_model, d_model), trained with the rest.
    """

    def __init__(self, n_sensory: int, query_hidden_size: int, d_model: int, key_dim: int | None,
                 num_heads: int) -> None:
        super().__init__()
        self.query = SensoryQuery(n_sensory, query_hidden_size, d_model)
        self.key = nn.Linear(d_model, d_model) if key_dim is None else None
        self.attention = nn.MultiheadAttention(d_model, num_heads, kdim=key_dim or d_model, vdim=d_model,
                                               batch_first=True)

    def forward(self, hidden: torch.Tensor, keys: torch.Tensor | None, sensory: torch.Tensor,
                attention_mask: torch.Tensor, output_attentions: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attention output A [B, L, d] and, if asked, the weights averaged over heads [B, L_query, L_key]; `keys`
        [B, L, k] are the backbone's, or None when the adapter projects its own from `hidden`."""
        if self.key is not None:
            keys = self.key(hidden)  # [B, L, d]
        queries = self.query(sensory.to(hidden.dtype))  # [B, L, d]
        attended, weights = self.attention(
            queries, keys, hidden,
            key_padding_mask=~attention_mask.bool(),  # True = padding, never attended
            need_weights=output_attentions,
            average_attn_weights=True,
        )
        return attended, weights


class TokenFusion(nn.Module):
    """Base of the token-level fusions: combine H and the sensory attention output A per token, then mean-pool."""

    uses_keys = True

    def __init__(self, n_sensory: int, query_hidden_size: int, d_model: int, key_dim: int | None,
                 num_heads: int) -> None:
        super().__init__()
        self.adapter = SensoryAttention(n_sensory, query_hidden_size, d_model, key_dim, num_heads)
        self.out_features = d_model

    def combine(self, hidden: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """Fused token states F [B, L, d] from H and A (both [B, L, d])."""
        raise NotImplementedError

    def forward(self, hidden: torch.Tensor, keys: torch.Tensor | None, sensory: torch.Tensor,
                attention_mask: torch.Tensor, output_attentions: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Pooled fused states [B, d] and the adapter's head-averaged attention weights [B, L, L] (or None)."""
        attended, weights = self.adapter(hidden, keys, sensory, attention_mask, output_attentions)
        return masked_mean(self.combine(hidden, attended), attention_mask), weights


class PaperFusion(TokenFusion):
    """The paper's fusion F = A * H (element-wise); returns adapter attention weights."""

    def combine(self, hidden: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """F = A * H."""
        return attended * hidden


class ResidualFusion(TokenFusion):
    """Residual fusion F = H + A; returns adapter attention weights."""

    def combine(self, hidden: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """F = H + A."""
        return hidden + attended


class GateFusion(TokenFusion):
    """Gated fusion F = H * sigmoid(W [H; A]) with W: Linear(2d, d); returns adapter attention weights."""

    def __init__(self, n_sensory: int, query_hidden_size: int, d_model: int, key_dim: int | None,
                 num_heads: int) -> None:
        super().__init__(n_sensory, query_hidden_size, d_model, key_dim, num_heads)
        self.gate = nn.Linear(2 * d_model, d_model)

    def combine(self, hidden: torch.Tensor, attended: torch.Tensor) -> torch.Tensor:
        """F = H * sigmoid(W [H; A])."""
        return hidden * torch.sigmoid(self.gate(torch.cat([hidden, attended], dim=-1)))


class LateFusion(nn.Module):
    """Sentence-level fusion, no token attention (returns no weights): [mean-pooled H; MLP(sensory statistics)].

    The statistics of a text are the mean and the max of the sensory rows of the attended tokens that have a value
    (a non-zero row; zeros when none has), and the share of attended tokens that have one: 2 D + 1 numbers.
    """

    uses_keys = False

    def __init__(self, n_sensory: int, query_hidden_size: int, d_model: int) -> None:
        super().__init__()
        self.statistics_mlp = nn.Sequential(
            nn.Linear(2 * n_sensory + 1, query_hidden_size), nn.ReLU(), nn.Linear(query_hidden_size, query_hidden_size)
        )
        self.out_features = d_model + query_hidden_size

    @staticmethod
    def statistics(sensory: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean, max and share with values of each text's sensory rows [B, L, D]; returns [B, 2 D + 1]."""
        valued = has_value(sensory, attention_mask)  # [B, L]
        count = valued.sum(dim=1, keepdim=True)  # [B, 1]
        weights = valued.unsqueeze(-1).to(sensory.dtype)  # [B, L, 1]
        mean = (sensory * weights).sum(dim=1) / count.clamp(min=1).to(sensory.dtype)  # [B, D]
        maximum = sensory.masked_fill(~valued.unsqueeze(-1), float("-inf")).amax(dim=1)  # [B, D]
        maximum = torch.where(count > 0, maximum, torch.zeros_like(maximum))
        share = count.to(sensory.dtype) / attention_mask.sum(dim=1, keepdim=True).clamp(min=1).to(sensory.dtype)
        return torch.cat([mean, maximum, share], dim=-1)

    def forward(self, hidden: torch.Tensor, keys: torch.Tensor | None, sensory: torch.Tensor,
                attention_mask: torch.Tensor, output_attentions: bool) -> tuple[torch.Tensor, None]:
        """[masked mean of H; MLP(statistics)] of shape [B, d + query_hidden_size], and no attention weights."""
        statistics = self.statistics(sensory.to(hidden.dtype), attention_mask)
        return torch.cat([masked_mean(hidden, attention_mask), self.statistics_mlp(statistics)], dim=-1), None


class InputFusion(nn.Module):
    """Input-level fusion, no adapter attention (returns no weights): SensoryQuery(sensory) is added to the input
    embeddings of the tokens that have a value (the backbone's own attention then mixes it in); mean-pooled H.
    `embedding_dim` is the width of the input embeddings (ALBERT and ELECTRA: narrower than d_model)."""

    uses_keys = False

    def __init__(self, n_sensory: int, query_hidden_size: int, d_model: int, embedding_dim: int) -> None:
        super().__init__()
        self.query = SensoryQuery(n_sensory, query_hidden_size, embedding_dim)
        self.out_features = d_model

    def embed(self, inputs_embeds: torch.Tensor, sensory: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Input embeddings [B, L, e] plus the projected sensory vectors where a token has a value."""
        valued = has_value(sensory, attention_mask).unsqueeze(-1).to(inputs_embeds.dtype)  # [B, L, 1]
        return inputs_embeds + valued * self.query(sensory.to(inputs_embeds.dtype))

    def forward(self, hidden: torch.Tensor, keys: torch.Tensor | None, sensory: torch.Tensor,
                attention_mask: torch.Tensor, output_attentions: bool) -> tuple[torch.Tensor, None]:
        """Masked mean of H [B, d] (the sensory vectors already entered through `embed`), and no weights."""
        return masked_mean(hidden, attention_mask), None


TOKEN_FUSIONS: dict[str, type[TokenFusion]] = {"paper": PaperFusion, "residual": ResidualFusion, "gate": GateFusion}


def build_fusion(fusion: str, n_sensory: int, query_hidden_size: int, d_model: int, key_dim: int | None,
                 num_heads: int, embedding_dim: int | None = None) -> nn.Module:
    """The fusion module named `fusion` (one of `FUSIONS`); `key_dim` None: the adapter projects its own keys;
    `embedding_dim`: the backbone's input embedding width (`input` fusion; default d_model)."""
    if fusion in TOKEN_FUSIONS:
        return TOKEN_FUSIONS[fusion](n_sensory, query_hidden_size, d_model, key_dim, num_heads)
    if fusion == "late":
        return LateFusion(n_sensory, query_hidden_size, d_model)
    if fusion == "input":
        return InputFusion(n_sensory, query_hidden_size, d_model, embedding_dim or d_model)
    raise OptionError(f"unknown fusion {fusion!r}; choose from {', '.join(FUSIONS)}")
