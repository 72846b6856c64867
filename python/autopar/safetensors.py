"""Reading safetensors files (what autopar-run --export and the compilers
write) into numpy arrays, without the safetensors package."""

import json

import numpy as np


def read_safetensors(path):
    """An independent reader: 8-byte little-endian header size, JSON
    header, raw little-endian tensors."""
    with open(path, "rb") as f:
        raw = f.read()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + size])
    dtypes = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[key] = np.frombuffer(raw[8 + size + begin:8 + size + end],
                                 dtype=dtypes[info["dtype"]]).reshape(
                                     info["shape"])
    return out
