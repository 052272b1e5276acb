"""`creating.store` when another worker stored the same record first: the row already there
comes back, nothing is stored twice, and the create's marker still goes (in the same commit)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from dollr_core.flows import creating
from dollr_core.ledger import open_ledger
from dollr_core.ledger.tables import ConsoleSetting, Customer


def test_a_record_stored_first_by_another_worker_is_returned_and_the_marker_goes(ledger_url: str) -> None:
    engine = open_ledger(ledger_url)
    marker = creating.creating_marker("party", "231770001111", "Amara Kamara")
    creating.mark(engine, marker)
    first = creating.store(
        engine, Customer(dollr_party_id=4242, fullname="Amara Kamara", phone="231770001111")
    )

    late = Customer(dollr_party_id=4242, fullname="Amara K.", phone="231770001111")
    got = creating.store(engine, late, unmarking=marker)

    assert got.id == first.id and got.fullname == "Amara Kamara"
    with Session(engine) as db:
        assert len(db.exec(select(Customer).where(Customer.dollr_party_id == 4242)).all()) == 1
        assert db.exec(select(ConsoleSetting).where(col(ConsoleSetting.key) == marker)).first() is None
