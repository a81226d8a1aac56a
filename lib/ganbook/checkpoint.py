"""Saving, loading and caching trained models, one call each.

A checkpoint is a plain ``torch.save`` of a dictionary: the kind of model, the
config that built it, the state dict of each network and the training log.
``load`` rebuilds the networks from the config through the builder registered
for the kind, so ``load(path)`` is all a reader needs.

``cached`` keys a checkpoint by kind, scale, config and the source of the
model's module: a notebook re-run with the same settings loads in seconds
instead of training again, and edited code trains afresh.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .settings import cache_dir, get_device

#: kind -> "module:function" that builds the networks from a config dict.
BUILDERS: dict[str, str] = {
    "gan": "ganbook.gan:build",
    "classifier": "ganbook.metrics:build_classifier",
    "dcgan": "ganbook.dcgan:build",
    "bgan_synth": "ganbook.synthetic:build",
    "ssgan": "ganbook.ssgan:build",
    "bayesian_dcgan": "ganbook.bayesian_dcgan:build",
    "toy": "ganbook.toy:build",
}


@dataclass
class Checkpoint:
    """Trained networks with the config that built them and their training log."""

    kind: str
    config: dict[str, Any]
    models: dict[str, nn.Module]
    log: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> nn.Module:
        return self.models[name]


def build(kind: str, config: dict[str, Any]) -> dict[str, nn.Module]:
    """Build fresh networks of a registered ``kind`` from ``config``."""
    if kind not in BUILDERS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(BUILDERS)}")
    module, function = BUILDERS[kind].split(":")
    return getattr(importlib.import_module(module), function)(config)


def save(checkpoint: Checkpoint, path: str | Path) -> Path:
    """Write ``checkpoint`` to ``path`` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: model.state_dict() for name, model in checkpoint.models.items()}
    payload = {
        "kind": checkpoint.kind,
        "config": checkpoint.config,
        "state": state,
        "log": checkpoint.log,
        "extra": checkpoint.extra,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load(path: str | Path, device: str | torch.device | None = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save`, rebuild its networks in eval mode."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    device = torch.device(device) if device is not None else get_device()
    try:
        payload = torch.load(path, map_location=device, weights_only=False)
        models = build(payload["kind"], payload["config"])
        for name, model in models.items():
            model.load_state_dict(payload["state"][name])
            model.to(device).eval()
    except (RuntimeError, KeyError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise RuntimeError(
            f"checkpoint {path} is unreadable ({type(exc).__name__}); delete it and train again."
        ) from None
    return Checkpoint(payload["kind"], payload["config"], models, payload["log"], payload["extra"])


def config_key(kind: str, scale: str, config: dict[str, Any]) -> str:
    """A short stable name for (kind, scale, config), used as the cache file name.

    The source of the module that builds the kind is part of the key, so a
    change to the model or training code never loads a stale model.
    """
    module = importlib.import_module(BUILDERS[kind].split(":")[0])
    code = Path(module.__file__).read_bytes() if module.__file__ else b""
    text = json.dumps(config, sort_keys=True, default=str).encode() + code
    return f"{kind}-{scale}-{hashlib.sha256(text).hexdigest()[:12]}"


def cached(
    kind: str,
    scale: str,
    config: dict[str, Any],
    train: Callable[[], Checkpoint],
    device: str | torch.device | None = None,
    verbose: bool = True,
) -> Checkpoint:
    """Load the cached checkpoint for (kind, scale, config), or train and cache it."""
    path = cache_dir() / f"{config_key(kind, scale, config)}.pt"
    if path.exists():
        if verbose:
            print(f"loaded {kind} from cache {path}")
        return load(path, device)
    checkpoint = train()
    save(checkpoint, path)
    if verbose:
        print(f"saved {kind} to cache {path}")
    return checkpoint
