"""The outbox and inbox tables, added to every service's own metadata.

outbox: events waiting to be published, written in the same transaction as the state change
that caused them; `seq` gives the publication order.
inbox: ids of the events a consumer group has applied, written in the same transaction as the
handler's effects, so a redelivered event is recognised and has no second effect.
event_archive (a service that rebuilds its projections declares it: `add_archive_table`): the
events its consumer applied, whole, in the order it applied them, written with the inbox row.
A rebuild replays it (the live order exactly, from the service's own database, whatever the
broker still holds), and an erasure scrubs it like any other table (shared.privacy), so the
history it keeps names no one erased.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)


def _sequence() -> Column[int]:
    """The order rows were written in: BigInteger on PostgreSQL, but INTEGER on SQLite so it
    stays the rowid alias."""
    return Column(
        "seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )


def add_messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    outbox = Table(
        "outbox",
        metadata,
        _sequence(),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("headers", JSON, nullable=False),
        Column("payload", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True), nullable=True, index=True),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column("consumer", String(100), primary_key=True),
        Column("event_id", String(64), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
    return outbox, inbox


ARCHIVE = "event_archive"


def add_archive_table(metadata: MetaData) -> Table:
    return Table(
        ARCHIVE,
        metadata,
        _sequence(),
        Column("event_id", String(64), nullable=False),
        Column("org", String(200), nullable=False),
        Column("type", String(200), nullable=False),
        Column("time", DateTime(timezone=True), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("key", String(200), nullable=True),
        Column("headers", JSON, nullable=False),  # the CloudEvent's attributes, by name
        Column("data", JSON, nullable=False),
        Column("archived_at", DateTime(timezone=True), nullable=False),
        Index("ux_event_archive_event_id", "event_id", unique=True),
    )


def messaging_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The (outbox, inbox) of a service, declared once on its own metadata."""
    if "outbox" in metadata.tables:
        return metadata.tables["outbox"], metadata.tables["inbox"]
    return add_messaging_tables(metadata)


def create_messaging_tables() -> None:
    """Migration step of every service's first revision: its outbox and inbox, as declared."""
    from alembic import op

    md = MetaData()
    add_messaging_tables(md)
    md.create_all(op.get_bind())


def drop_messaging_tables() -> None:
    from alembic import op

    md = MetaData()
    add_messaging_tables(md)
    md.drop_all(op.get_bind())
