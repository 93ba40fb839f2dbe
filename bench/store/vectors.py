"""pgvector's binary wire format for psycopg, without the pgvector package: ``int16 dim, int16 unused``,
then ``dim`` float4, all big-endian. Registered by oid only, so it serves binary COPY (``set_types``) and
``BinaryVector`` parameters and changes nothing else on the connection."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.adapt import Buffer, Dumper
from psycopg.pq import Format
from psycopg.rows import tuple_row
from psycopg.types import TypeInfo

from docintake.vectors import pack_vector


class BinaryVector:
    """A vector parameter that psycopg sends in binary (for ``executemany``); COPY needs no wrapper."""

    __slots__ = ("values",)

    def __init__(self, values: list[float]) -> None:
        self.values = values


class _VectorBinaryDumper(Dumper):
    format = Format.BINARY

    def dump(self, obj: Any) -> Buffer:
        if isinstance(obj, bytes):  # already packed
            return obj
        return pack_vector(obj.values if isinstance(obj, BinaryVector) else obj)


def register_binary_vector(conn: psycopg.Connection[Any]) -> int:
    """Teaches ``conn`` the binary form of ``vector``; returns its oid."""
    info = TypeInfo.fetch(conn, "vector")
    if info is None:
        raise RuntimeError("the vector extension is not installed in this database")
    info.register(conn)
    dumper = type("VectorBinaryDumper", (_VectorBinaryDumper,), {"oid": info.oid})
    conn.adapters.register_dumper(BinaryVector, dumper)
    return info.oid


def column_oids(conn: psycopg.Connection[Any], table: str, columns: tuple[str, ...]) -> list[int]:
    """The type oids of ``columns`` of ``table``, in order: what ``Copy.set_types`` wants."""
    with conn.cursor(row_factory=tuple_row) as cur:
        rows = cur.execute(
            "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
            [table],
        ).fetchall()
    by_name = {row[0]: row[1] for row in rows}
    return [by_name[column] for column in columns]
