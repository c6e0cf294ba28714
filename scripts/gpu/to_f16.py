"""Rewrite a .safetensors file with its F32 tensors as F16 (other dtypes copied), in plain
Python (no numpy or torch needed). dps-tui widens F16 weights to F32 when it loads them.

Usage: python3 to_f16.py IN.safetensors OUT.safetensors
"""
import array
import json
import struct
import sys


def main(src, dst):
    with open(src, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    out_header, chunks, offset = {}, [], 0
    for name in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        info = header[name]
        a, b = info["data_offsets"]
        raw = data[a:b]
        dtype = info["dtype"]
        if dtype == "F32":
            vals = array.array("f")
            vals.frombytes(raw)
            if sys.byteorder != "little":
                vals.byteswap()
            raw = struct.pack("<%de" % len(vals), *vals)
            dtype = "F16"
        out_header[name] = {"dtype": dtype, "shape": info["shape"],
                            "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if meta is not None:
        out_header["__metadata__"] = meta
    h = json.dumps(out_header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(dst, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for c in chunks:
            f.write(c)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
