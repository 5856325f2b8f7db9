# Copyright 2026 xmodal_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Pre-norm transformer layers shared by the UMI and vanilla-transformer models.

Written out (rather than nn.TransformerEncoderLayer) so the attention mask of Eq. 2 is explicit and
the graphs export to ONNX as plain matmuls and softmax.
"""
import torch
from torch import nn
from torch.nn import functional as F


class SelfAttention(nn.Module):
    def __init__(self, dim, heads, dropout):
        super().__init__()
        assert dim % heads == 0, f'width {dim} is not divisible by {heads} heads'
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x, allowed=None):
        """
        Attend over the tokens, query i to key j where ``allowed`` (k, k) bool says so.

        ``allowed`` is I_ij of Eq. 2; None = all.
        """
        b, k, d = x.shape
        q, key, v = self.qkv(x).view(b, k, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, key, v, attn_mask=allowed,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, k, d))


class Block(nn.Module):
    def __init__(self, dim, heads, ff_dim, dropout):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, ff_dim), nn.GELU(), nn.Linear(ff_dim, dim),
                                 nn.Dropout(dropout))

    def forward(self, x, allowed=None):
        x = x + self.attn(self.norm1(x), allowed)
        return x + self.mlp(self.norm2(x))


class Transformer(nn.Module):
    def __init__(self, dim, heads, ff_dim, layers, dropout):
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim, heads, ff_dim, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, x, allowed=None):
        for block in self.blocks:
            x = block(x, allowed)
        return self.norm(x)


def group_mask(k, groups):
    """(k, k) bool, True where query and key token fall in the same of ``groups`` equal groups."""
    g = torch.arange(k) // (k // groups)
    return g[:, None] == g[None, :]
