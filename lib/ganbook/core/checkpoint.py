"""Saving, loading and caching trained models, one call each.

A checkpoint file holds plain data only: the kind of model, the JSON-able
config that built it, the state dict of each network, the training log and
extras (tensors, NumPy arrays, numbers). It is read with
``torch.load(..., weights_only=True)``, so a ``model.pt`` from elsewhere can
never run code on load, and written to a temporary name that is renamed into
place, so a run killed while saving leaves no file that a later load trusts.

Each chapter registers the kinds it builds (:func:`register`); ``load(path)``
rebuilds the networks from the config through the kind's builder, so it is all
a reader needs. ``cached`` keys a checkpoint by kind, scale, config and the
source of the chapter's code: a notebook re-run with the same settings loads in
seconds, and edited code trains afresh.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import pickle
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn

from ganbook.core.settings import cache_dir, get_device

#: Marks a file written by :func:`save`; a file without it is not a checkpoint.
FORMAT = "ganbook-checkpoint/2"

Builder = Callable[[dict[str, Any]], dict[str, nn.Module]]
ModuleT = TypeVar("ModuleT", bound=nn.Module)


@dataclass(frozen=True)
class Kind:
    """A registered model kind: how to build it, and the code its cache key covers."""

    build: Builder
    module: str
    sources: tuple[str, ...]


_KINDS: dict[str, Kind] = {}


class CheckpointError(RuntimeError):
    """A file that is not a readable ganbook checkpoint (of the kind asked for)."""


def register(kind: str, build: Builder, *, sources: tuple[str, ...] = ()) -> None:
    """Register ``build`` as the builder of model ``kind``.

    The cache key of the kind covers the source of the builder's package and of
    every module or package named in ``sources`` (the code that trains it).
    """
    module = build.__module__
    package = module.rsplit(".", 1)[0]
    _KINDS[kind] = Kind(build, module, (package, *sources))


def kinds() -> tuple[str, ...]:
    """The model kinds registered so far."""
    return tuple(_KINDS)


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

    def model(self, name: str, cls: type[ModuleT]) -> ModuleT:
        """The network ``name``, checked to be a ``cls`` (so it is typed as one)."""
        return of_type(self.models[name], cls)


def of_type(model: nn.Module, cls: type[ModuleT]) -> ModuleT:
    """``model`` checked to be a ``cls``: a built or loaded network, typed as its class."""
    if not isinstance(model, cls):
        raise TypeError(f"expected a {cls.__name__}, got a {type(model).__name__}")
    return model


def _kind(kind: str, module: str | None = None) -> Kind:
    if kind not in _KINDS and module and module.startswith("ganbook."):
        try:
            importlib.import_module(module)
        except ImportError:
            pass
    if kind not in _KINDS:
        raise ValueError(f"unknown model kind {kind!r}; known: {', '.join(sorted(_KINDS))}")
    return _KINDS[kind]


def build(kind: str, config: dict[str, Any]) -> dict[str, nn.Module]:
    """Build fresh networks of a registered ``kind`` from ``config``."""
    return _kind(kind).build(config)


def _encode(value: Any) -> Any:
    """Plain data that ``weights_only`` loading accepts (NumPy arrays as tensors)."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(value))}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_encode(v) for v in value)
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__ndarray__"}:
            return value["__ndarray__"].numpy()
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_decode(v) for v in value)
    return value


def save(checkpoint: Checkpoint, path: str | Path) -> Path:
    """Write ``checkpoint`` to ``path`` atomically (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = _kind(checkpoint.kind)
    payload = {
        "format": FORMAT,
        "kind": checkpoint.kind,
        "module": kind.module,
        "config": json.loads(json.dumps(checkpoint.config)),
        "state": {name: model.state_dict() for name, model in checkpoint.models.items()},
        "log": _encode(checkpoint.log),
        "extra": _encode(checkpoint.extra),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(payload, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _read(path: Path) -> dict[str, Any]:
    """The payload of ``path``, read without running any code from it."""
    unreadable = f"{path} is not a readable ganbook checkpoint"
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"{unreadable}: it holds objects other than plain data, so it was not loaded"
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise CheckpointError(
            f"{unreadable} (empty, cut short or corrupt: {type(exc).__name__})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{unreadable}: it was not written by ganbook.core.checkpoint.save")
    return payload


def load(
    path: str | Path, device: str | torch.device | None = None, kind: str | None = None
) -> Checkpoint:
    """Read a checkpoint written by :func:`save`, rebuild its networks in eval mode.

    ``kind``, if given, is the kind expected; any file that is not a ganbook
    checkpoint of that kind raises :class:`CheckpointError` with one sentence.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    device = get_device(device)
    payload = _read(path)
    if kind is not None and payload["kind"] != kind:
        raise CheckpointError(f"{path} holds a {payload['kind']!r} model, not {kind!r}")
    try:
        models = _kind(payload["kind"], payload.get("module")).build(payload["config"])
        for name, model in models.items():
            model.load_state_dict(payload["state"][name])
            model.to(device).eval()
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(
            f"{path} does not match the {payload['kind']!r} model its config describes "
            f"({type(exc).__name__}); delete it and train again"
        ) from None
    return Checkpoint(
        payload["kind"],
        payload["config"],
        models,
        _decode(payload["log"]),
        _decode(payload["extra"]),
    )


def _source_digest(names: tuple[str, ...]) -> bytes:
    """The bytes of every ``.py`` file of the named modules and packages, in order."""
    text = b""
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ValueError(f"no module {name!r} to key the cache on")
        origin = Path(spec.origin)
        files = sorted(origin.parent.rglob("*.py")) if origin.name == "__init__.py" else [origin]
        for file in files:
            text += file.read_bytes()
    return text


def config_key(kind: str, scale: str, config: dict[str, Any]) -> str:
    """A short stable name for (kind, scale, config), used as the cache file name.

    The source of the code registered with the kind is part of the key, so a
    change to the model or training code never loads a stale model.
    """
    text = json.dumps(config, sort_keys=True, default=str).encode()
    text += _source_digest(_kind(kind).sources)
    return f"{kind}-{scale}-{hashlib.sha256(text).hexdigest()[:12]}"


def cache_path(kind: str, scale: str, config: dict[str, Any]) -> Path:
    """Where :func:`cached` keeps the model of (kind, scale, config)."""
    return cache_dir() / f"{config_key(kind, scale, config)}.pt"


def _check_writable(folder: Path) -> None:
    """Fail before any training if the model cache cannot be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        raise CheckpointError(
            f"the model cache {folder} (GANBOOK_CACHE) is not a writable folder "
            f"({exc.strerror}); point GANBOOK_CACHE at one"
        ) from None


def cached(
    kind: str,
    scale: str,
    config: dict[str, Any],
    train: Callable[[], Checkpoint],
    device: str | torch.device | None = None,
    verbose: bool = True,
) -> Checkpoint:
    """Load the cached checkpoint for (kind, scale, config), or train and cache it.

    A cache entry that cannot be read is never trusted: it is trained again,
    with a warning.
    """
    path = cache_path(kind, scale, config)
    _check_writable(path.parent)
    if path.exists():
        try:
            checkpoint = load(path, device, kind=kind)
        except CheckpointError as exc:
            warnings.warn(f"{exc}; training it again", stacklevel=2)
        else:
            if verbose:
                print(f"loaded {kind} from the model cache ({path.name})")
            return checkpoint
    checkpoint = train()
    save(checkpoint, path)
    if verbose:
        print(f"saved {kind} to the model cache ({path.name})")
    return checkpoint
