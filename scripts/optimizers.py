"""SGD and AdamW as torch.optim computes them, without torch.optim.Optimizer's wrappers.

Every update is torch's own functional form (torch.optim.sgd.sgd, torch.optim.adam.adam with
decoupled weight decay: what torch.optim.SGD and torch.optim.AdamW call), with foreach kernels on the
CPU and fused ones on CUDA, so the arithmetic is torch's (tests/test_optimizer.py compares it with
torch.optim step by step). What is left out is the Optimizer class's machinery: its first use imports
torch's compiler stack (torch._dynamo: 1.1 s of every training job's start on a CPU, torch 2.14) for
features a training job here never uses. state_dict() has torch.optim's layout, so checkpoints
written by either load in the other.
"""

from __future__ import annotations

import torch
from torch.optim.adam import adam
from torch.optim.sgd import sgd

SGD_DEFAULTS = {"dampening": 0, "nesterov": False, "maximize": False, "differentiable": False}
ADAMW_DEFAULTS = {"amsgrad": False, "maximize": False, "capturable": False, "differentiable": False,
                  "decoupled_weight_decay": True}  # fmt: skip


class Optimizer:
    """kind "sgd" (momentum, L2 weight decay) or "adamw"; groups as torch.optim's param groups."""

    def __init__(self, kind: str, groups: list[dict], hyper: dict, device_type: str):
        impl = {"fused": True, "foreach": None} if device_type == "cuda" else {"fused": None, "foreach": True}
        defaults = SGD_DEFAULTS if kind == "sgd" else ADAMW_DEFAULTS
        self.kind = kind
        self.param_groups = [{**defaults, **hyper, **impl, **g} for g in groups]
        self.state: dict = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for g in self.param_groups:
            for p in g["params"]:
                p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        for g in self.param_groups:
            params = [p for p in g["params"] if p.grad is not None]
            (self._sgd if self.kind == "sgd" else self._adamw)(g, params, [p.grad for p in params])

    def _sgd(self, g: dict, params: list, grads: list) -> None:
        bufs = [self.state.get(p, {}).get("momentum_buffer") for p in params]
        sgd(params, grads, bufs, weight_decay=g["weight_decay"], momentum=g["momentum"], lr=g["lr"],
            dampening=g["dampening"], nesterov=g["nesterov"], maximize=g["maximize"], has_sparse_grad=False,
            foreach=g["foreach"], fused=g["fused"], grad_scale=None, found_inf=None)  # fmt: skip
        for p, b in zip(params, bufs):
            self.state.setdefault(p, {})["momentum_buffer"] = b

    def _new_adam_state(self, p, fused: bool) -> dict:
        step = torch.zeros((), dtype=torch.float32, device=p.device) if fused else torch.tensor(0.0)
        zeros = torch.zeros_like(p, memory_format=torch.preserve_format)
        return {"step": step, "exp_avg": zeros, "exp_avg_sq": torch.zeros_like(zeros)}

    def _adamw(self, g: dict, params: list, grads: list) -> None:
        for p in params:
            if not self.state.get(p):
                self.state[p] = self._new_adam_state(p, bool(g["fused"]))
        s = [self.state[p] for p in params]
        beta1, beta2 = g["betas"]
        adam(params, grads, [x["exp_avg"] for x in s], [x["exp_avg_sq"] for x in s], [], [x["step"] for x in s],
             amsgrad=False, has_complex=False, beta1=beta1, beta2=beta2, lr=g["lr"], weight_decay=g["weight_decay"],
             eps=g["eps"], maximize=False, foreach=g["foreach"], capturable=False, differentiable=False,
             fused=g["fused"], grad_scale=None, found_inf=None, decoupled_weight_decay=True)  # fmt: skip

    def _params(self) -> list:
        return [p for g in self.param_groups for p in g["params"]]

    def state_dict(self) -> dict:
        """torch.optim's layout: state by parameter index, groups with the indices of their parameters."""
        index = {id(p): i for i, p in enumerate(self._params())}
        groups, start = [], 0
        for g in self.param_groups:
            groups.append(
                {
                    **{k: v for k, v in g.items() if k != "params"},
                    "params": list(range(start, start + len(g["params"]))),
                }
            )
            start += len(g["params"])
        return {"state": {index[id(p)]: dict(s) for p, s in self.state.items()}, "param_groups": groups}

    def load_state_dict(self, saved: dict) -> None:
        params = self._params()
        for g, sg in zip(self.param_groups, saved["param_groups"]):
            g.update({k: v for k, v in sg.items() if k not in ("params", "foreach", "fused")})
        self.state = {}
        for i, s in saved["state"].items():
            p = params[int(i)]
            self.state[p] = {k: (v if k == "step" else v.to(dtype=p.dtype, device=p.device)) for k, v in s.items()}
