"""
tfrecordtest — an independent reader of the TFRecord framing and of
protobuf wire format, written from the published formats, for the suites
that check what the server writes: TensorBoard event files (exptest) and
tf.train.Example training data (fvtest).

A TFRecord file is a run of records: length (uint64 LE), the masked
CRC-32C of those 8 bytes (uint32 LE), the data, the masked CRC-32C of the
data. A mask is ((crc >> 15) | (crc << 17)) + 0xa282ead8, mod 2^32.
"""

import struct
from pathlib import Path


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC_TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc(data):
    """The masked CRC-32C of data, as TFRecord stores it."""
    c = crc32c(data)
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecords(path):
    """The records of a TFRecord file, each checked against its two CRCs."""
    raw = Path(path).read_bytes()
    out, i = [], 0
    while i < len(raw):
        assert i + 12 <= len(raw), "truncated record header at byte %d" % i
        header = raw[i:i + 8]
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", raw[i + 8:i + 12])
        assert hcrc == masked_crc(header), "bad length CRC at byte %d" % i
        data = raw[i + 12:i + 12 + length]
        assert len(data) == length, "truncated record at byte %d" % i
        (dcrc,) = struct.unpack("<I", raw[i + 12 + length:i + 16 + length])
        assert dcrc == masked_crc(data), "bad data CRC at byte %d" % i
        out.append(data)
        i += 16 + length
    return out


def varint(b, i):
    """The varint at b[i:]: (value, index after it)."""
    v, shift = 0, 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def protobuf_fields(b):
    """(field number, wire type, value) of a protobuf message."""
    i, out = 0, []
    while i < len(b):
        key, i = varint(b, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(b, i)
        elif wt == 1:
            v = b[i:i + 8]
            i += 8
        elif wt == 2:
            n, i = varint(b, i)
            v = b[i:i + n]
            i += n
        elif wt == 5:
            v = b[i:i + 4]
            i += 4
        else:
            raise AssertionError("unexpected wire type %d" % wt)
        out.append((num, wt, v))
    return out
