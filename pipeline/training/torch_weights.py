"""PyTorch's legacy (non-zip) checkpoint format, read as data: no torch, no code run.

Such a file (torch.save with `_use_new_zipfile_serialization=False`) is five pickles in a row,
then the raw storages:
  1. the magic number, 2. the protocol version (1001), 3. system info (byte order, sizes),
  4. the object itself: here an OrderedDict of tensors, each pickled as
     `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`,
     whose storage is a persistent id `('storage', <Type>Storage, key, location, numel)`,
  5. the list of storage keys, in the order the storages follow;
then per storage: its element count as a little-endian int64 and its bytes.

The unpickler below resolves only those names, to inert stand-ins of its own: anything else a
file asks for (the way a pickle runs code) is refused. Tensors come back as numpy arrays.
"""
from __future__ import annotations

import collections
import io
import pickle
from pathlib import Path

import numpy as np

from pipeline.training.pretrained import WeightsError, read_checked

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # torch/serialization.py
PROTOCOL_VERSION = 1001
STORAGE_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64,
                  "HalfStorage": np.float16, "LongStorage": np.int64, "IntStorage": np.int32,
                  "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
                  "BoolStorage": np.bool_}


class _Storage(str):
    """A storage type named in the pickle (torch.FloatStorage): only its name is kept."""


class _TensorRef:
    """What `_rebuild_tensor_v2` was called with; made an array once the storages are read."""

    def __init__(self, storage, offset, size, stride, *_ignored):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _TensorRef
        if module == "torch" and name in STORAGE_DTYPES:
            return _Storage(name)
        raise WeightsError(f"refuses to load global {module}.{name}: only tensors may be in "
                           "a weights file")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _Storage) and isinstance(pid[2], str)
                and isinstance(pid[4], int)):
            raise WeightsError(f"unexpected persistent id {pid!r:.80}")
        return pid[1], pid[2], pid[4]  # type, key, element count


def load_state_dict(path: Path, expected_sha256: str) -> dict[str, np.ndarray]:
    """{name: array} of a legacy torch checkpoint, after its sha256 matched."""
    data = read_checked(Path(path), expected_sha256)
    try:
        return _parse(io.BytesIO(data))
    except WeightsError as exc:
        raise WeightsError(f"{path}: {exc}") from None
    except Exception as exc:  # any malformed file: data, not our bug
        raise WeightsError(f"{path}: not a readable PyTorch legacy checkpoint "
                           f"({type(exc).__name__}: {exc})") from None


def _parse(stream: io.BytesIO) -> dict[str, np.ndarray]:
    if _Restricted(stream).load() != MAGIC_NUMBER:
        raise WeightsError("not a PyTorch legacy checkpoint (magic number)")
    if _Restricted(stream).load() != PROTOCOL_VERSION:
        raise WeightsError("unsupported PyTorch checkpoint protocol")
    info = _Restricted(stream).load()
    if not isinstance(info, dict) or not info.get("little_endian", False):
        raise WeightsError("only little-endian checkpoints are read")
    state = _Restricted(stream).load()
    keys = _Restricted(stream).load()
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise WeightsError("expected a state dict of tensors")
    refs = {name: ref for name, ref in state.items() if isinstance(ref, _TensorRef)}
    kinds = {ref.storage[1]: ref.storage for ref in refs.values()}
    storages = {}
    for key in keys:
        count = int(np.frombuffer(_take(stream, 8), "<i8")[0])
        kind, _, numel = kinds.get(key, (None, key, count))
        dtype = np.dtype(STORAGE_DTYPES.get(kind, np.uint8)).newbyteorder("<")
        if count != numel:
            raise WeightsError(f"storage {key}: {count} elements, the tensors say {numel}")
        storages[key] = np.frombuffer(_take(stream, count * dtype.itemsize), dtype)
    return {name: _array(ref, storages, name) for name, ref in refs.items()}


def _take(stream: io.BytesIO, n: int) -> bytes:
    chunk = stream.read(n)
    if len(chunk) != n:
        raise WeightsError("file ends inside a storage (truncated)")
    return chunk


def _array(ref: _TensorRef, storages: dict, name: str) -> np.ndarray:
    flat = storages.get(ref.storage[1])
    if flat is None:
        raise WeightsError(f"tensor {name!r}: its storage is missing")
    size, stride = tuple(ref.size), tuple(ref.stride)
    last = ref.offset + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    if len(size) != len(stride) or ref.offset < 0 or min(stride, default=0) < 0 \
            or last >= max(len(flat), 1):
        raise WeightsError(f"tensor {name!r}: shape {size} / stride {stride} reach outside "
                           "its storage")
    view = np.lib.stride_tricks.as_strided(flat[ref.offset:], size,
                                           [s * flat.itemsize for s in stride], writeable=False)
    return np.array(view, dtype=flat.dtype.newbyteorder("="))
