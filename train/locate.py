"""What `--model` names: `tiny`, a model directory, a run directory, or a hub id.

The one place that decides, before anything slow starts. A spec that looks like a path
(starts with `/`, `.` or `~`, or has more separators than a hub id's one `owner/name` slash) is
a path, and a missing one is reported as missing; `owner/name` is a hub id unless it exists
locally (a missing `runs/a` is both, and its message says so). A hub id
never waits on a network that is not there: `HF_HUB_OFFLINE=1` (or `TRANSFORMERS_OFFLINE=1`)
means the local cache only, and otherwise one TCP connection to the hub (or to the proxy),
given `PROBE_TIMEOUT_S` seconds, decides between downloading and the cache. Without this, a
hub id offline spent about 55 s in retries before failing.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PROBE_TIMEOUT_S = 3.0
GGUF_MAGIC = b"GGUF"
_TRUE = {"1", "on", "yes", "true"}  # what huggingface_hub accepts for HF_HUB_OFFLINE


class LocateError(Exception):
    """`--model` names nothing loadable; the message says what was found instead."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: `kind` is tiny, local or hub; `where` is the model
    directory (local) or the hub id (hub); `cache_only` forbids the network (hub)."""

    spec: str
    kind: str
    where: str
    cache_only: bool = False


def looks_like_path(spec: str) -> bool:
    """A hub id has at most one `/` and never starts with `/`, `.` or `~`."""
    separators = {os.sep, os.altsep or os.sep} - {"/"}
    return (spec.startswith(("/", ".", "~")) or spec.count("/") > 1
            or any(sep in spec for sep in separators))


def is_gguf_file(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == GGUF_MAGIC
    except OSError:
        return False


def _is_run_dir(path: Path) -> bool:
    """A tasklang run directory: its config.json is the run's, not a model's."""
    try:
        return json.loads((path / "config.json").read_text(encoding="utf-8")).get("tool") == "tasklang"
    except (OSError, ValueError, AttributeError):
        return (path / "metrics.jsonl").is_file()


def local_source(spec: str, path: Path) -> ModelSource:
    """An existing path: a model directory, or a run directory standing for its checkpoint."""
    if path.is_file():
        if is_gguf_file(path):
            raise LocateError(
                f"--model {spec}: a GGUF file, not a model directory; convert it first: "
                f"tasklang model import-gguf {spec} -o DIR"
            )
        raise LocateError(f"--model {spec}: a file, not a model directory")
    if (path / "checkpoint" / "config.json").is_file():
        return ModelSource(spec, "local", str(path / "checkpoint"))
    if _is_run_dir(path):
        raise LocateError(f"--model {spec}: a run directory without a checkpoint/ (the run saved none yet)")
    if (path / "config.json").is_file():
        return ModelSource(spec, "local", str(path))
    raise LocateError(
        f"--model {spec}: a directory, but neither a model directory (no config.json) "
        "nor a run directory (no checkpoint/)"
    )


def offline() -> bool:
    names = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return any(os.environ.get(name, "").strip().lower() in _TRUE for name in names)


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or "https://huggingface.co"


def _probe_target() -> tuple[str, int]:
    """The host a download connects to first: the HTTPS proxy when one is set, else the hub."""
    proxy = next((os.environ[n] for n in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
                  if os.environ.get(n)), None)
    url = urlsplit(proxy if proxy and "://" in proxy else f"http://{proxy}" if proxy else hub_endpoint())
    default = 443 if url.scheme == "https" else 80
    return url.hostname or "huggingface.co", url.port or default


def reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    """One TCP connection to the hub (or proxy) within `timeout` seconds, name lookup
    included (getaddrinfo ignores socket timeouts, hence the thread)."""
    host, port = _probe_target()
    result: list[bool] = []

    def connect() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    worker = threading.Thread(target=connect, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def cached(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)


def hub_source(spec: str) -> ModelSource:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(spec)
    except HFValidationError:
        raise LocateError(
            f"--model {spec}: not `tiny`, not an existing path, and not a hub id (owner/name)"
        ) from None
    if offline():
        if cached(spec):
            return ModelSource(spec, "hub", spec, cache_only=True)
        raise LocateError(
            f"--model {spec}: no such local path, and as a hub id it is not in the local cache "
            "while HF_HUB_OFFLINE forbids downloading it (use a local model directory, "
            "e.g. one written by `tasklang model import-gguf`)"
        )
    if reachable():
        return ModelSource(spec, "hub", spec)
    if cached(spec):
        return ModelSource(spec, "hub", spec, cache_only=True)
    raise LocateError(
        f"--model {spec}: no such local path, and as a hub id it is not in the local cache while "
        f"{hub_endpoint()} cannot be reached "
        f"(no connection in {PROBE_TIMEOUT_S:g} s); download it where there is a network, or use a "
        "local model directory"
    )


def locate(spec: str) -> ModelSource:
    """Decide what `spec` names; LocateError (one line) when it names nothing loadable."""
    if spec == "tiny":
        return ModelSource(spec, "tiny", spec)
    if not spec.strip():
        raise LocateError("--model is empty: give `tiny`, a model directory, a run directory or a hub id")
    path = Path(spec).expanduser()
    if path.exists():
        return local_source(spec, path)
    if looks_like_path(spec):
        raise LocateError(f"--model {spec}: no such file or directory")
    return hub_source(spec)
