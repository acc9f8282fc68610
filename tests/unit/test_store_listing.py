"""The one query helper of operator listings: filters given are applied, filters not given are not, and
keyset pages join up with no row lost or repeated."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, insert, select

from core.store.query import Listing

metadata = MetaData()
things = Table(
    "things", metadata, Column("id", Integer, primary_key=True), Column("kind", String), Column("at", DateTime),
    Column("note", String),
)
T0 = datetime(2026, 1, 1)


def rows() -> list[dict]:
    return [
        {"id": i, "kind": "a" if i % 2 else "b", "at": T0 + timedelta(hours=i), "note": "50%_off" if i == 3 else f"n{i}"}
        for i in range(1, 11)
    ]


def test_filters_ranges_text_and_keyset_pages() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(insert(things), rows())
        ids = lambda listing: [r.id for r in listing.fetch(conn)]  # noqa: E731
        assert ids(Listing(select(things)).equal(things.c.kind, None).page((things.c.id,), 100)) == list(range(1, 11))
        assert ids(Listing(select(things)).equal(things.c.kind, "a").page((things.c.id,), 100)) == [1, 3, 5, 7, 9]
        assert ids(
            Listing(select(things)).range(things.c.at, T0 + timedelta(hours=2), T0 + timedelta(hours=5)).page((things.c.id,), 100)
        ) == [2, 3, 4]
        # LIKE's wildcards in the searched text are taken literally.
        assert ids(Listing(select(things)).contains(things.c.note, "50%_").page((things.c.id,), 100)) == [3]
        assert ids(Listing(select(things)).contains(things.c.note, "0%").page((things.c.id,), 100)) == [3]
        seen, after = [], None
        while True:
            page = ids(Listing(select(things)).equal(things.c.kind, "b").page((things.c.id,), 2, after=after))
            if not page:
                break
            seen += page
            after = (page[-1],)
        assert seen == [2, 4, 6, 8, 10]
