"""Identity of a model's weights, for cache keys when no checkpoint hash is given."""

from __future__ import annotations

import hashlib

import torch


def model_fingerprint(model: torch.nn.Module) -> str:
    """SHA-256 over the class name and every state-dict tensor (name, dtype, shape, bytes).

    Two models with the same architecture and the same weights share a fingerprint; any change of a
    weight changes it. Costs one pass over the weights (milliseconds for the models here).
    """
    digest = hashlib.sha256(type(model).__qualname__.encode())
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
        if t.dtype == torch.bfloat16:
            t = t.view(torch.int16)
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()
