"""
oast._parquet — a small Parquet reader in pure Python, so the client reads
the Parquet files Oast writes (training data, feature group exports) on a
machine without pyarrow.

It reads flat schemas (no nesting), data pages v1 and v2, PLAIN and
dictionary encodings, RLE/bit-packed definition levels, and the codecs
UNCOMPRESSED, SNAPPY (decoded here) and GZIP (zlib). Values come back by
physical type: int for INT32/INT64 (Oast's dates are days and timestamps
microseconds since the epoch), float, bool, and str for UTF-8 byte arrays;
nulls are None. It is meant for training data sizes, not for speed: use
pandas with pyarrow when it is installed.
"""

import struct
import zlib

# Thrift compact protocol types.
_T_TRUE, _T_FALSE, _T_BYTE, _T_I16, _T_I32, _T_I64, _T_DOUBLE, _T_BINARY, _T_LIST, _T_SET, _T_MAP, _T_STRUCT = range(1, 13)


class ParquetError(ValueError):
    """The file is not a Parquet file this reader understands."""


def uvarint(buf, pos):
    """The unsigned LEB128 varint at buf[pos]: (value, position after it)."""
    v = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return v, pos


class _Thrift:
    def __init__(self, buf, pos=0):
        self.buf = buf
        self.pos = pos

    def varint(self):
        v, self.pos = uvarint(self.buf, self.pos)
        return v

    def zigzag(self):
        v = self.varint()
        return (v >> 1) ^ -(v & 1)

    def value(self, t):
        if t == _T_TRUE:
            return True
        if t == _T_FALSE:
            return False
        if t == _T_BYTE:
            v = self.buf[self.pos]
            self.pos += 1
            return v - 256 if v > 127 else v
        if t in (_T_I16, _T_I32, _T_I64):
            return self.zigzag()
        if t == _T_DOUBLE:
            v = struct.unpack_from("<d", self.buf, self.pos)[0]
            self.pos += 8
            return v
        if t == _T_BINARY:
            n = self.varint()
            v = bytes(self.buf[self.pos:self.pos + n])
            self.pos += n
            return v
        if t in (_T_LIST, _T_SET):
            h = self.buf[self.pos]
            self.pos += 1
            n, et = h >> 4, h & 0x0F
            if n == 15:
                n = self.varint()
            if et in (_T_TRUE, _T_FALSE):
                out = []
                for _ in range(n):
                    out.append(self.buf[self.pos] == 1)
                    self.pos += 1
                return out
            return [self.value(et) for _ in range(n)]
        if t == _T_MAP:
            n = self.varint()
            if n == 0:
                return {}
            kv = self.buf[self.pos]
            self.pos += 1
            return {self.value(kv >> 4): self.value(kv & 0x0F) for _ in range(n)}
        if t == _T_STRUCT:
            return self.struct()
        raise ParquetError("unknown thrift type %d" % t)

    def struct(self):
        out, last = {}, 0
        while True:
            h = self.buf[self.pos]
            self.pos += 1
            if h == 0:
                return out
            delta, t = h >> 4, h & 0x0F
            fid = last + delta if delta else self.zigzag()
            out[fid] = self.value(t)
            last = fid


def snappy_decompress(data):
    """Decodes a raw snappy block."""
    n, pos = uvarint(data, 0)
    out = bytearray()
    while pos < len(data):
        tag = data[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                length = int.from_bytes(data[pos:pos + extra], "little")
                pos += extra
            length += 1
            out += data[pos:pos + length]
            pos += length
            continue
        if kind == 1:
            length = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | data[pos]
            pos += 1
        elif kind == 2:
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + 2], "little")
            pos += 2
        else:
            length = (tag >> 2) + 1
            offset = int.from_bytes(data[pos:pos + 4], "little")
            pos += 4
        if offset == 0 or offset > len(out):
            raise ParquetError("corrupt snappy data")
        start = len(out) - offset
        for i in range(length):  # copies may overlap their own output
            out.append(out[start + i])
    if len(out) != n:
        raise ParquetError("snappy data has %d bytes, expected %d" % (len(out), n))
    return bytes(out)


def _decompress(codec, data, size):
    if codec == 0:
        return bytes(data)
    if codec == 1:
        return snappy_decompress(data)
    if codec == 2:
        return zlib.decompress(bytes(data), 31)
    raise ParquetError("compression codec %d is not supported by the pure Python reader; install pyarrow" % codec)


def _rle_hybrid(buf, pos, end, width, count):
    """count values of the RLE/bit-packed hybrid encoding in buf[pos:end]."""
    out = []
    nbytes = (width + 7) // 8
    while len(out) < count and pos < end:
        h, pos = uvarint(buf, pos)
        if h & 1:
            groups = h >> 1
            nb = groups * width
            bits = int.from_bytes(buf[pos:pos + nb], "little")
            pos += nb
            mask = (1 << width) - 1
            for i in range(groups * 8):
                out.append((bits >> (i * width)) & mask if width else 0)
        else:
            run = h >> 1
            v = int.from_bytes(buf[pos:pos + nbytes], "little")
            pos += nbytes
            out += [v] * run
    return out[:count]


def _plain(ptype, buf, pos, n):
    if ptype == 0:  # BOOLEAN, bit-packed
        bits = int.from_bytes(buf[pos:pos + (n + 7) // 8], "little")
        return [bool((bits >> i) & 1) for i in range(n)]
    if ptype == 1:
        return list(struct.unpack_from("<%di" % n, buf, pos))
    if ptype == 2:
        return list(struct.unpack_from("<%dq" % n, buf, pos))
    if ptype == 4:
        return list(struct.unpack_from("<%df" % n, buf, pos))
    if ptype == 5:
        return list(struct.unpack_from("<%dd" % n, buf, pos))
    if ptype == 6:
        out = []
        for _ in range(n):
            (ln,) = struct.unpack_from("<I", buf, pos)
            pos += 4
            out.append(bytes(buf[pos:pos + ln]))
            pos += ln
        return out
    raise ParquetError("physical type %d is not supported" % ptype)


def _values(ptype, enc, buf, pos, end, n, dictionary):
    if enc in (2, 8):  # PLAIN_DICTIONARY, RLE_DICTIONARY
        if dictionary is None:
            raise ParquetError("dictionary-encoded page without a dictionary")
        width = buf[pos]
        idx = _rle_hybrid(buf, pos + 1, end, width, n)
        return [dictionary[i] for i in idx]
    if enc == 0:
        return _plain(ptype, buf, pos, n)
    if enc == 3 and ptype == 0:  # RLE booleans: 4-byte length, then the hybrid
        return [bool(v) for v in _rle_hybrid(buf, pos + 4, end, 1, n)]
    raise ParquetError("encoding %d is not supported" % enc)


def read(path):
    """Reads a flat Parquet file: returns (names, columns) with columns as lists of Python values."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 12 or data[:4] != b"PAR1" or data[-4:] != b"PAR1":
        raise ParquetError("%s is not a Parquet file" % path)
    (flen,) = struct.unpack_from("<I", data, len(data) - 8)
    meta = _Thrift(data, len(data) - 8 - flen).struct()
    schema = meta.get(2, [])
    leaves = [s for s in schema[1:] if not s.get(5)]
    names = [s[4].decode() for s in leaves]
    columns = [[] for _ in leaves]
    for rg in meta.get(4, []):
        for ci, chunk in enumerate(rg[1]):
            md = chunk[3]
            ptype, codec, total = md[1], md[4], md[5]
            optional = leaves[ci].get(3, 0) == 1
            pos = md.get(11) if md.get(11) is not None and md.get(11) < md[9] else md[9]
            dictionary, got = None, 0
            while got < total:
                t = _Thrift(data, pos)
                ph = t.struct()
                body = data[t.pos:t.pos + ph[3]]
                pos = t.pos + ph[3]
                kind = ph[1]
                if kind == 2:
                    dh = ph[7]
                    raw = _decompress(codec, body, ph[2])
                    dictionary = _plain(ptype, raw, 0, dh[1])
                    continue
                if kind == 0:
                    dh = ph[5]
                    n = dh[1]
                    raw = _decompress(codec, body, ph[2])
                    p = 0
                    levels = [1] * n
                    if optional:
                        (ln,) = struct.unpack_from("<I", raw, 0)
                        levels = _rle_hybrid(raw, 4, 4 + ln, 1, n)
                        p = 4 + ln
                    vals = _values(ptype, dh[2], raw, p, len(raw), sum(levels), dictionary)
                elif kind == 3:
                    dh = ph[8]
                    n, dlen, rlen = dh[1], dh[5], dh[6]
                    levels_raw = body[:rlen + dlen]
                    rest = body[rlen + dlen:]
                    raw = _decompress(codec, rest, ph[2] - rlen - dlen) if dh.get(7, True) else bytes(rest)
                    levels = _rle_hybrid(levels_raw, rlen, rlen + dlen, 1, n) if optional and dlen else [1] * n
                    vals = _values(ptype, dh[4], raw, 0, len(raw), sum(levels), dictionary)
                else:
                    continue
                it = iter(vals)
                col = columns[ci]
                for lv in levels:
                    col.append(next(it) if lv else None)
                got += n
    for ci, s in enumerate(leaves):
        logical = s.get(10) or {}
        if s[1] == 6 and (s.get(6) == 0 or 1 in logical):  # UTF8 / STRING
            columns[ci] = [v.decode("utf-8") if isinstance(v, bytes) else v for v in columns[ci]]
    return names, columns
