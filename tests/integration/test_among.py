"""`among` (core/store/util.py: an IN list passed to SQLite as one JSON array) finds what `in_` finds, on
SQLite and PostgreSQL: text ids with quotes, backslashes, Thai and astral characters, integer ids, values
that match nothing, a lone value."""

from __future__ import annotations

from sqlalchemy import select

from core.store import Store
from core.store.schema import entities, outbox, xrefs
from core.store.util import among
from tests.integration.test_ledger_delivered_bodies import push
from tests.integration.test_links import put

ODD_IDS = ['say "hi"', "back\\slash", "ถนน ๑๒๓", "🚧 works", "it's", "[1,2]", "1234567890123456789012", " padded "]


def test_among_finds_what_in_finds(store: Store) -> None:
    made = {external_id: put(store, "eplan", "plan_project", {"title": external_id}, external_id) for external_id in ODD_IDS}
    asked = [*ODD_IDS[:5], "absent", ODD_IDS[5], "", *ODD_IDS[6:]]

    def by(conn, condition):  # type: ignore[no-untyped-def]
        return sorted(conn.execute(select(xrefs.c.external_id, xrefs.c.entity_id).where(condition)).all())

    def compare(conn):  # type: ignore[no-untyped-def]
        texts = by(conn, among(conn, xrefs.c.external_id, asked)), by(conn, xrefs.c.external_id.in_(asked))
        one = by(conn, among(conn, xrefs.c.external_id, [ODD_IDS[2]])), by(conn, xrefs.c.external_id.in_([ODD_IDS[2]]))
        ids = list(made.values())[:3]
        rows = (
            sorted(conn.execute(select(entities.c.entity_id).where(among(conn, entities.c.entity_id, ids))).scalars()),
            sorted(conn.execute(select(entities.c.entity_id).where(entities.c.entity_id.in_(ids))).scalars()),
        )
        return texts, one, rows

    texts, one, rows = store.read(compare)
    assert texts[0] == texts[1] == sorted((ext, made[ext]) for ext in ODD_IDS)
    assert one[0] == one[1] == [(ODD_IDS[2], made[ODD_IDS[2]])]
    assert rows[0] == rows[1] == sorted(list(made.values())[:3])


def test_among_with_integers_and_nothing_found(store: Store) -> None:
    for n in range(3):
        push(store, f"P-{n}", f"ถนนสาย {n}", {2570: "100.00"})

    def read(conn):  # type: ignore[no-untyped-def]
        ids = [row[0] for row in conn.execute(select(outbox.c.id)).all()]
        found = sorted(conn.execute(select(outbox.c.id).where(among(conn, outbox.c.id, [*ids[1:], 10**9]))).scalars())
        none = conn.execute(select(outbox.c.id).where(among(conn, outbox.c.id, [10**9 + 1]))).all()
        return ids, found, none

    ids, found, none = store.read(read)
    assert len(ids) == 3 and found == sorted(ids[1:])
    assert none == []
