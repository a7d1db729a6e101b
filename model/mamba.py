"""Jamba's Mamba mixer: in_proj -> causal conv1d -> x_proj -> RMS norms on dt/B/C -> dt_proj -> selective
scan (D skip, SiLU gate) -> out_proj.

The mixer runs one chunk at a time and carries its conv and SSM state in the cache, so a 256K prompt
costs the memory of one chunk. The kernels come from ``model.ops`` (chosen once, passed in); the math
follows transformers' ``JambaMambaMixer`` exactly, including where dt_proj's bias enters (inside the
scan's softplus, not in the linear layer).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.config import JambaConfig
from model.layers import RMSNorm


class MambaMixer(nn.Module):
    def __init__(self, config: JambaConfig, ops=None) -> None:
        super().__init__()
        h, di, n = config.hidden_size, config.d_inner, config.mamba_d_state
        r, w = config.dt_rank, config.mamba_d_conv
        self.d_inner, self.d_state, self.dt_rank = di, n, r
        self.activation = config.hidden_act
        self.in_proj = nn.Linear(h, 2 * di, bias=config.mamba_proj_bias)
        # Depthwise conv: the checkpoint stores (Di, 1, W); the kernels take (Di, W), a free view.
        self.conv1d = nn.Conv1d(di, di, w, groups=di, padding=w - 1, bias=config.mamba_conv_bias)
        self.x_proj = nn.Linear(di, r + 2 * n, bias=False)
        self.dt_proj = nn.Linear(r, di, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(di, 1))
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, h, bias=config.mamba_proj_bias)
        self.dt_layernorm = RMSNorm(r, eps=config.rms_norm_eps)
        self.b_layernorm = RMSNorm(n, eps=config.rms_norm_eps)
        self.c_layernorm = RMSNorm(n, eps=config.rms_norm_eps)
        self.ops = ops
        self._A: torch.Tensor | None = None
        self._A_key: tuple | None = None

    def A(self) -> torch.Tensor:
        """A = -exp(A_log) in fp32, computed once per loaded weight, not on every forward.

        Keyed on the parameter's storage and version counter, so a fresh load (or an in-place copy into
        A_log) recomputes it and nothing else does.
        """
        p = self.A_log
        key = (p.data_ptr(), p._version, p.device, p.shape)
        if self._A_key != key:
            self._A = -torch.exp(p.detach().float())
            self._A_key = key
        return self._A

    def _ssm_inputs(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """From the conv output (B, T, Di): dt before bias (B, Di, T), B and C (B, N, T), normalized."""
        dt, b, c = torch.split(self.x_proj(x), [self.dt_rank, self.d_state, self.d_state], dim=-1)
        dt = F.linear(self.dt_layernorm(dt), self.dt_proj.weight)  # bias goes into the scan's softplus
        return dt.transpose(1, 2), self.b_layernorm(b).transpose(1, 2), self.c_layernorm(c).transpose(1, 2)

    def forward(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None, start: int = 0
    ) -> torch.Tensor:
        """x (B, T, hidden) -> (B, T, hidden).

        state = (conv (B, Di, W-1), ssm (B, Di, N) fp32) from the cache: read as the state before this
        chunk unless ``start`` is 0 (a new sequence starts from zeros), and overwritten with the state
        after it. Without a state the chunk is a whole sequence from position 0.
        """
        if state is None and start:
            raise ValueError("a Mamba chunk at a nonzero position needs the carried state")
        if state is not None and x.shape[1] == 1:
            return self._step(x, state, fresh=start == 0)
        dtype = x.dtype
        xz = self.in_proj(x).transpose(1, 2)  # (B, 2Di, T)
        u, z = xz[:, : self.d_inner].contiguous(), xz[:, self.d_inner :]
        conv0 = ssm0 = None
        if state is not None and start:
            conv0, ssm0 = state
        w, act = self.conv1d.weight.squeeze(1), self.activation  # (Di, W)
        u, conv1 = self.ops.causal_conv1d(u, w, self.conv1d.bias, initial_state=conv0, activation=act)
        dt, b, c = self._ssm_inputs(u.transpose(1, 2))
        y, ssm1 = self.ops.selective_scan(
            u, dt, self.A(), b, c, D=self.D.float(), z=z, delta_bias=self.dt_proj.bias.float(),
            delta_softplus=True, initial_state=ssm0,
        )  # (B, Di, T), (B, Di, N)
        if state is not None:
            state[0].copy_(conv1)
            state[1].copy_(ssm1)
        return self.out_proj(y.transpose(1, 2).to(dtype))

    def _step(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], fresh: bool) -> torch.Tensor:
        """One token (B, 1, hidden) through the recurrent form, updating the state in place."""
        conv, ssm = state
        if fresh:
            conv.zero_()
            ssm.zero_()
        dtype = x.dtype
        u, z = self.in_proj(x[:, 0]).chunk(2, dim=-1)  # (B, Di) each
        u = self.ops.causal_conv1d_update(
            u, conv, self.conv1d.weight.squeeze(1), self.conv1d.bias, activation=self.activation
        )
        dt, b, c = self._ssm_inputs(u[:, None])  # (B, Di, 1), (B, N, 1), (B, N, 1)
        y = self.ops.selective_state_update(
            ssm, u, dt[..., 0], self.A(), b[..., 0], c[..., 0], D=self.D.float(), z=z,
            dt_bias=self.dt_proj.bias.float(), dt_softplus=True,
        )  # (B, Di)
        return self.out_proj(y.to(dtype))[:, None]
