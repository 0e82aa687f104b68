"""Frames: how a parent and its child process (the companion release, the JAX oracle) exchange Python objects.

Frames are a 4-byte big-endian length and a pickle whose NumPy arrays and scalars are written as bytes, dtype
string and shape (:func:`dumps`): the two environments may hold different NumPy releases, whose own pickles
need not load in each other.
The readers of a frame import this module to rebuild its arrays (the pickle names :func:`_array`...), so both ends
must run the same checkout, which they do: every child starts with this checkout on its path.
"""

from __future__ import annotations

import io
import pickle
import struct

import numpy as np


def _array(data: bytes, dtype: str, shape: tuple) -> np.ndarray:
    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()


def _scalar(data: bytes, dtype: str):
    return np.frombuffer(data, dtype=np.dtype(dtype))[0]


class _Pickler(pickle.Pickler):
    def reducer_override(self, obj):
        if isinstance(obj, np.ndarray):
            if obj.dtype.names:  # a structured array (arrays of structs): its dtype description rebuilds it
                return _structured, (np.ascontiguousarray(obj).tobytes(), obj.dtype.descr, obj.shape)
            return _array, (np.ascontiguousarray(obj).tobytes(), obj.dtype.str, obj.shape)
        if isinstance(obj, np.generic):
            return _scalar, (np.asarray(obj).tobytes(), obj.dtype.str)
        return NotImplemented


def _structured(data: bytes, descr: list, shape: tuple) -> np.ndarray:
    return np.frombuffer(data, dtype=np.dtype([tuple(d) for d in descr])).reshape(shape).copy()


def dumps(obj) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=4).dump(obj)
    return buf.getvalue()


def write_frame(stream, obj) -> None:
    data = dumps(obj)
    stream.write(struct.pack(">I", len(data)) + data)
    stream.flush()


def read_frame(stream):
    """The next object on ``stream``; None at end of stream."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    (n,) = struct.unpack(">I", head)
    data = stream.read(n)
    if len(data) < n:
        return None
    return pickle.loads(data)


def stop_child(proc, kill: bool = False) -> None:
    """End a child process that reads frames on its stdin: close its stdin (the end of the stream, on which it
    returns) and wait up to 10 s, or kill it at once with ``kill``; a child that does not end is killed."""
    try:
        if kill:
            proc.kill()
        elif proc.stdin:
            proc.stdin.close()
        proc.wait(timeout=10)
    except Exception:  # noqa: BLE001 - a hung child is killed
        proc.kill()
        proc.wait()
