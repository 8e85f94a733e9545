"""What erasure does to a value (shared/privacy.py, the pure part): the id replaced wherever
it is, personal fields blanked only in what is about the person, never in another's record
that merely points at them."""

from __future__ import annotations

from services import SERVICE_NAMES
from shared.contracts.enrollment import ERASURE_CONFIRMERS
from shared.privacy import ERASED, about, mentions, scrubbed


def test_an_event_about_the_person_loses_its_personal_fields() -> None:
    hired = {"employee_id": "eve", "name": "Eve Mentee", "email": "eve@acme.com", "level": 2}
    assert scrubbed(hired, "eve", "erased-1") == {
        "employee_id": "erased-1", "name": ERASED, "email": ERASED, "level": 2,
    }  # fmt: skip
    feedback = {"author_employee_id": "eve", "comment": "kind", "rating": 5}
    assert scrubbed(feedback, "eve", "p") == {
        "author_employee_id": "p",
        "comment": ERASED,
        "rating": 5,
    }


def test_a_record_pointing_at_the_person_keeps_its_own_personal_fields() -> None:
    """Bob's record names Eve as his manager: her id goes, his name stays."""
    bob = {
        "employee_id": "bob",
        "name": "Bob",
        "manager_id": "eve",
        "manager_chain": ["eve", "ceo"],
    }
    assert scrubbed(bob, "eve", "p") == {
        "employee_id": "bob", "name": "Bob", "manager_id": "p", "manager_chain": ["p", "ceo"],
    }  # fmt: skip
    assert not about(bob, "eve") and mentions(bob, "eve")


def test_nested_documents_and_lookalikes() -> None:
    """A CloudEvent's data is judged on its own; a value that only contains the id is not it."""
    delivery = {
        "subject": "eve",
        "data": {"mentee_employee_id": "eve", "note": "left early", "program_id": "eve-club"},
    }
    assert scrubbed(delivery, "eve", "p") == {
        "subject": "p",
        "data": {"mentee_employee_id": "p", "note": ERASED, "program_id": "eve-club"},
    }
    assert scrubbed({"name": "Eve"}, "eve", "p") == {"name": "Eve"}  # not about her by id


def test_every_service_confirms_erasures() -> None:
    assert set(ERASURE_CONFIRMERS) == set(SERVICE_NAMES)
