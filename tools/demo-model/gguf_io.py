"""Minimal GGUF v3 reader/writer in numpy (our own; no ggml code).

Reads F32, F16, BF16, Q8_0, Q4_0, I32 tensors and every metadata type; writes F32, F16, Q8_0, I32.
Shapes are returned in numpy (row-major) order: a GGUF tensor with ne = [n0, n1] becomes (n1, n0).
"""

import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
ALIGNMENT = 32

# Metadata value types (gguf_type).
T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)
_SCALAR = {
    T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i",
    T_F32: "<f", T_BOOL: "<?", T_U64: "<Q", T_I64: "<q", T_F64: "<d",
}
_NP_SCALAR = {
    T_U8: np.uint8, T_I8: np.int8, T_U16: np.uint16, T_I16: np.int16, T_U32: np.uint32,
    T_I32: np.int32, T_F32: np.float32, T_BOOL: np.bool_, T_U64: np.uint64, T_I64: np.int64,
    T_F64: np.float64,
}

# ggml tensor types we handle: id -> (block size, bytes per block).
F32, F16, Q4_0, Q8_0, I32, BF16 = 0, 1, 2, 8, 26, 30
_BLOCK = {F32: (1, 4), F16: (1, 2), Q4_0: (32, 18), Q8_0: (32, 34), I32: (1, 4), BF16: (1, 2)}
TYPE_NAMES = {F32: "F32", F16: "F16", Q4_0: "Q4_0", Q8_0: "Q8_0", I32: "I32", BF16: "BF16"}


class Reader:
    """A parsed GGUF file: `meta` (key -> python value), `meta_types`, `tensors` (name -> info)."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.buf = f.read()
        self.pos = 0
        if self._take(4) != GGUF_MAGIC:
            raise ValueError(f"{path}: not a GGUF file")
        (self.version,) = self._unpack("<I")
        if self.version != 3:
            raise ValueError(f"{path}: GGUF version {self.version}, only 3 is supported")
        n_tensors, n_kv = self._unpack("<QQ")
        self.meta, self.meta_types = {}, {}
        for _ in range(n_kv):
            key = self._string()
            (vtype,) = self._unpack("<I")
            self.meta[key], self.meta_types[key] = self._value(vtype)
        self.tensors = {}
        for _ in range(n_tensors):
            name = self._string()
            (n_dims,) = self._unpack("<I")
            ne = list(self._unpack("<" + "Q" * n_dims))
            ttype, offset = self._unpack("<IQ")
            self.tensors[name] = {"ne": ne, "type": ttype, "offset": offset}
        align = int(self.meta.get("general.alignment", ALIGNMENT))
        self.data_start = (self.pos + align - 1) // align * align

    def _take(self, n):
        out = self.buf[self.pos:self.pos + n]
        if len(out) != n:
            raise ValueError(f"{self.path}: truncated at byte {self.pos}")
        self.pos += n
        return out

    def _unpack(self, fmt):
        return struct.unpack(fmt, self._take(struct.calcsize(fmt)))

    def _string(self):
        (n,) = self._unpack("<Q")
        return self._take(n).decode("utf-8")

    def _value(self, vtype):
        if vtype in _SCALAR:
            return self._unpack(_SCALAR[vtype])[0], vtype
        if vtype == T_STR:
            return self._string(), vtype
        if vtype == T_ARR:
            (etype,) = self._unpack("<I")
            (n,) = self._unpack("<Q")
            if etype in _SCALAR:
                size = struct.calcsize(_SCALAR[etype])
                arr = np.frombuffer(self._take(n * size), dtype=_NP_SCALAR[etype]).copy()
                return arr, (T_ARR, etype)
            items = [self._value(etype)[0] for _ in range(n)]
            return items, (T_ARR, etype)
        raise ValueError(f"{self.path}: unknown metadata type {vtype}")

    def raw(self, name):
        """The tensor's bytes as stored."""
        t = self.tensors[name]
        n_el = int(np.prod(t["ne"]))
        blk, nbytes = _BLOCK[t["type"]]
        start = self.data_start + t["offset"]
        return self.buf[start:start + n_el // blk * nbytes]

    def tensor(self, name):
        """The tensor as a float32 (or int32) numpy array in row-major shape (reversed ne)."""
        t = self.tensors[name]
        if t["type"] not in _BLOCK:
            raise ValueError(f"{name}: ggml type {t['type']} not supported")
        shape = tuple(reversed([int(x) for x in t["ne"]]))
        return dequantize(t["type"], self.raw(name)).reshape(shape)

    def type_name(self, name):
        return TYPE_NAMES.get(self.tensors[name]["type"], str(self.tensors[name]["type"]))


def dequantize(ttype, raw):
    """Bytes of one tensor -> flat float32 (int32 for I32) array."""
    if ttype == F32:
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)
    if ttype == F16:
        return np.frombuffer(raw, dtype="<f2").astype(np.float32)
    if ttype == BF16:
        u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return u.view(np.float32)
    if ttype == I32:
        return np.frombuffer(raw, dtype="<i4").copy()
    if ttype == Q8_0:
        blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 34)  # [n_blocks][2 + 32]
        d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n_blocks][1]
        q = blocks[:, 2:].view(np.int8).astype(np.float32)  # [n_blocks][32]
        return (q * d).reshape(-1)
    if ttype == Q4_0:
        blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)  # [n_blocks][2 + 16]
        d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n_blocks][1]
        qs = blocks[:, 2:]  # [n_blocks][16]: element j in the low nibble, j + 16 in the high one
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0  # [n_blocks][32]
        return (q * d).reshape(-1)
    raise ValueError(f"ggml type {ttype} not supported")


def quantize_q8_0(x):
    """float array (size multiple of 32) -> Q8_0 bytes, as ggml's reference quantizer (round half away)."""
    x = np.asarray(x, dtype=np.float32).reshape(-1, 32)  # [n_blocks][32]
    amax = np.abs(x).max(axis=1, keepdims=True)
    d = amax / 127.0
    inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 0.0).astype(np.float32)
    v = x * inv
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)  # [n_blocks][32]
    out = np.empty((x.shape[0], 34), dtype=np.uint8)
    out[:, :2] = d.astype("<f2").view(np.uint8)
    out[:, 2:] = q.view(np.uint8)
    return out.tobytes()


def encode(ttype, a):
    """numpy array -> the bytes of a tensor of ggml type ttype (F32, F16, I32 or Q8_0)."""
    a = np.asarray(a)
    if ttype == F32:
        return a.astype("<f4").tobytes()
    if ttype == F16:
        return a.astype("<f2").tobytes()
    if ttype == I32:
        return a.astype("<i4").tobytes()
    if ttype == Q8_0:
        if a.ndim == 0 or a.shape[-1] % 32:
            raise ValueError(f"Q8_0 needs rows that are a multiple of 32, got shape {a.shape}")
        return quantize_q8_0(a)
    raise ValueError(f"cannot write ggml type {ttype}")


class Writer:
    """Collects metadata and tensors, then writes one GGUF v3 file."""

    def __init__(self):
        self.kv = []  # [(key, vtype, value)]
        self.items = []  # [(name, ne, ggml type, bytes)]

    def add(self, key, value, vtype=None):
        """Add a metadata key. vtype: a T_* constant, or (T_ARR, element type); inferred if None."""
        if vtype is None:
            vtype = _infer_type(value)
        self.kv.append((key, vtype, value))

    def add_tensor(self, name, array, ttype=None):
        """Add a tensor given in numpy shape; ttype F32 (default for floats), F16, Q8_0 or I32."""
        a = np.asarray(array)
        if ttype is None:
            ttype = I32 if np.issubdtype(a.dtype, np.integer) else F32
        ne = list(reversed(a.shape)) or [1]
        try:
            data = encode(ttype, a)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
        self.items.append((name, ne, ttype, data))

    def write(self, path):
        out = bytearray()
        out += GGUF_MAGIC + struct.pack("<IQQ", 3, len(self.items), len(self.kv))
        for key, vtype, value in self.kv:
            out += _pack_string(key) + _pack_value(vtype, value)
        offset = 0
        offsets = []
        for name, ne, ttype, data in self.items:
            offsets.append(offset)
            out += _pack_string(name) + struct.pack("<I", len(ne))
            out += struct.pack("<" + "Q" * len(ne), *ne) + struct.pack("<IQ", ttype, offset)
            offset += (len(data) + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
        out += b"\0" * (-len(out) % ALIGNMENT)
        for (_, _, _, data), off in zip(self.items, offsets):
            out += data + b"\0" * (-len(data) % ALIGNMENT)
        with open(path, "wb") as f:
            f.write(out)


def _infer_type(value):
    if isinstance(value, bool):
        return T_BOOL
    if isinstance(value, (int, np.integer)):
        return T_U32 if value >= 0 else T_I32
    if isinstance(value, (float, np.floating)):
        return T_F32
    if isinstance(value, str):
        return T_STR
    if isinstance(value, np.ndarray):
        for t, dt in _NP_SCALAR.items():
            if value.dtype == dt:
                return (T_ARR, t)
    if isinstance(value, (list, tuple)) and value:
        return (T_ARR, _infer_type(value[0]))
    raise ValueError(f"cannot infer a GGUF type for {value!r}")


def _pack_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _pack_value(vtype, value):
    if isinstance(vtype, tuple):
        etype = vtype[1]
        head = struct.pack("<IIQ", T_ARR, etype, len(value))
        if etype in _SCALAR:
            return head + np.asarray(value, dtype=np.dtype(_NP_SCALAR[etype]).newbyteorder("<")).tobytes()
        return head + b"".join(_pack_value(etype, v)[4:] for v in value)
    if vtype == T_STR:
        return struct.pack("<I", T_STR) + _pack_string(value)
    return struct.pack("<I", vtype) + struct.pack(_SCALAR[vtype], value)
