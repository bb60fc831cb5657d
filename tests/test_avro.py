"""The core's Avro container writer (core/base/avro.c), read back by two
independent readers, fastavro and Apache avro: every type and logical type
the ETL writes, every codec, and corrupted files rejected by both readers
and by the core's own reader (build/tests/tools/dw-avro)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import subprocess
from pathlib import Path

import avro.datafile
import avro.io
import fastavro
import pytest

from conftest import REPO

TOOL = REPO / "build" / "tests" / "tools" / "dw-avro"
CODECS = ("null", "deflate", "snappy")
N = 700


def expected(i: int) -> dict:
    """What tests/tools/dw-avro.c writes as record i."""
    return {
        "id": i,
        "name": None if i % 3 == 0 else f'vehicle "{i}" \u00e9',
        "lat": 52.5 + i / 1000.0,
        "at": dt.datetime(2019, 6, 1, 15, 0, 0, 123000, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=i),
        "day": dt.date(2019, 6, 1) + dt.timedelta(days=i % 3),
        "amount": decimal.Decimal(i * 125 - 1000).scaleb(-2),
        "ok": None if i % 4 == 0 else bool(i % 2),
        "ratio": i / 4.0,
    }


def write(tmp_path: Path, codec: str, n: int = N) -> Path:
    path = tmp_path / f"sample-{codec}.avro"
    subprocess.run([str(TOOL), "write", codec, str(n), str(path)], check=True)
    return path


def read_fastavro(path: Path):
    with open(path, "rb") as f:
        r = fastavro.reader(f)
        return r.writer_schema, r.metadata, list(r)


def read_apache(path: Path):
    with open(path, "rb") as f:
        with avro.datafile.DataFileReader(f, avro.io.DatumReader()) as r:
            meta = {k: r.get_meta(k) for k in ("avro.codec", "avro.schema")}
            return meta, list(r)


def normalise(rec: dict) -> dict:
    out = dict(rec)
    if out["at"] is not None:  # Apache avro's own UTC tzinfo
        out["at"] = out["at"].astimezone(dt.timezone.utc)
    return out


@pytest.mark.parametrize("codec", CODECS)
def test_both_readers_read_every_type(tmp_path, codec):
    path = write(tmp_path, codec)
    schema, meta, recs = read_fastavro(path)
    assert meta["avro.codec"] == codec
    assert len(recs) == N
    for i, rec in enumerate(recs):
        assert rec == expected(i), i
    # logical types kept in the header, the schema verbatim
    fields = {f["name"]: f["type"] for f in json.loads(meta["avro.schema"])["fields"]}
    assert fields["at"][1] == {"type": "long", "logicalType": "timestamp-millis"}
    assert fields["day"][1] == {"type": "int", "logicalType": "date"}
    assert fields["amount"][1]["logicalType"] == "decimal" and fields["amount"][1]["scale"] == 2
    ameta, arecs = read_apache(path)
    assert ameta["avro.codec"] == codec.encode()
    assert json.loads(ameta["avro.schema"]) == json.loads(meta["avro.schema"])
    assert [normalise(r) for r in arecs] == [expected(i) for i in range(N)]
    core = subprocess.run([str(TOOL), "read", str(path)], capture_output=True, text=True)
    assert core.returncode == 0 and core.stdout.split()[2:4] == ["records", str(N)], core.stdout


def test_deterministic(tmp_path):
    """The same records under the same name give the same bytes."""
    a = write(tmp_path, "deflate")
    (tmp_path / "again").mkdir()
    b = write(tmp_path / "again", "deflate")
    assert a.read_bytes() == b.read_bytes()


def first_block(data: bytes) -> int:
    """Offset of the first block's data (after the header and two varints)."""
    def varint(pos):
        shift = val = 0
        while True:
            b = data[pos]
            pos += 1
            val |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return (val >> 1) ^ -(val & 1), pos
    pos = 4
    while True:
        n, pos = varint(pos)
        if n == 0:
            break
        for _ in range(abs(n)):
            for _ in range(2):
                ln, pos = varint(pos)
                pos += ln
    pos += 16
    _, pos = varint(pos)
    size, pos = varint(pos)
    return pos, size


def rejected_by_all(path: Path):
    with pytest.raises(Exception):
        read_fastavro(path)
    with pytest.raises(Exception):
        read_apache(path)
    core = subprocess.run([str(TOOL), "read", str(path)], capture_output=True, text=True)
    assert core.returncode == 1 and "AvroInvalid" in core.stdout, core.stdout


@pytest.mark.parametrize("codec", ("deflate", "snappy"))
def test_corrupted_block_rejected(tmp_path, codec):
    path = write(tmp_path, codec)
    data = bytearray(path.read_bytes())
    pos, size = first_block(bytes(data))
    for i in range(pos + 10, pos + size - 8, 97):  # flip bytes inside the block's data
        data[i] ^= 0xA5
    path.write_bytes(bytes(data))
    rejected_by_all(path)


def test_snappy_crc_checked(tmp_path):
    path = write(tmp_path, "snappy")
    data = bytearray(path.read_bytes())
    pos, size = first_block(bytes(data))
    data[pos + size - 1] ^= 0x01  # the CRC-32 after the snappy data
    path.write_bytes(bytes(data))
    with pytest.raises(Exception):
        read_apache(path)
    core = subprocess.run([str(TOOL), "read", str(path)], capture_output=True, text=True)
    assert core.returncode == 1 and "CRC" in core.stdout, core.stdout


def test_wrong_sync_marker_rejected(tmp_path):
    path = write(tmp_path, "null")
    data = bytearray(path.read_bytes())
    pos, size = first_block(bytes(data))
    data[pos + size] ^= 0xFF  # the sync marker after the first block
    path.write_bytes(bytes(data))
    rejected_by_all(path)
