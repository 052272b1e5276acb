"""P1–P3 parties and C1–C4 counterparties."""

from __future__ import annotations

import pytest

from dollr_core.basics.enums import RelationshipType

from .support import Api, locs


def test_party_create_retrieve_list(api: Api) -> None:
    body = {
        "fullname": "Amara Kamara",
        "phone": "231771234567",
        "email": "amara@example.com",
        "country_code": "LR",
    }
    created = api.ok("POST", "/v1/parties/create", json=body)
    assert isinstance(created["id"], int)
    assert {k: created[k] for k in body} == body
    assert created["created_at"].endswith("Z") and created["updated_at"].endswith("Z")
    assert api.ok("GET", f"/v1/parties/retrieve/{created['id']}") == created
    api.party(fullname="Ben Doe", phone="231880000001")
    assert [p["fullname"] for p in api.ok("GET", "/v1/parties/list")] == ["Amara Kamara", "Ben Doe"]
    assert [p["fullname"] for p in api.ok("GET", "/v1/parties/list", params={"fullname": "amara"})] == [
        "Amara Kamara"
    ]


def test_party_optional_fields_default_to_null(api: Api) -> None:
    created = api.party()
    assert created["email"] is None and created["country_code"] is None


@pytest.mark.parametrize(
    "phone", ["+231771234567", "2317712", "2317712345678901", "23177123456a", 231771234567]
)
def test_party_phone_must_be_e164_digits(api: Api, phone: object) -> None:
    r = api.post("/v1/parties/create", json={"fullname": "A", "phone": phone})
    assert locs(r) == [["body", "phone"]]


def test_party_missing_fields(api: Api) -> None:
    r = api.post("/v1/parties/create", json={})
    assert sorted(locs(r)) == [["body", "fullname"], ["body", "phone"]]
    assert all(e["type"] == "value_error.missing" for e in r.json()["detail"])


@pytest.mark.parametrize(
    "field,value", [("email", "not-an-email"), ("country_code", "lr"), ("country_code", "LBR")]
)
def test_party_optional_field_formats(api: Api, field: str, value: str) -> None:
    r = api.post("/v1/parties/create", json={"fullname": "A", "phone": "231771234567", field: value})
    assert locs(r) == [["body", field]]


def test_party_unknown_is_404_and_path_must_be_int(api: Api) -> None:
    assert api.get("/v1/parties/retrieve/999").status_code == 404
    assert locs(api.get("/v1/parties/retrieve/abc")) == [["path", "id"]]


def test_malformed_json_is_422(api: Api) -> None:
    r = api.post("/v1/parties/create", content=b'{"fullname": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "json_invalid"
    assert locs(api.post("/v1/parties/create")) == [["body"]]


def test_counterparty_lifecycle(api: Api) -> None:
    party = api.party()
    other = api.party(fullname="Ben Doe", phone="231880000001")
    created = api.counterparty(party["id"])
    assert created["relationship_type"] == "CUSTOMER" and created["party_id"] == party["id"]
    detail = api.ok("GET", f"/v1/counterparties/retrieve/{created['id']}")
    assert detail["party"] == party
    updated = api.ok(
        "PUT",
        f"/v1/counterparties/update/{created['id']}",
        json={"relationship_type": "SUPPLIER", "party_id": other["id"]},
    )
    assert updated["relationship_type"] == "SUPPLIER" and updated["party_id"] == other["id"]
    api.counterparty(party["id"], "EMPLOYEE")
    assert len(api.ok("GET", "/v1/counterparties/list")) == 2
    assert len(api.ok("GET", "/v1/counterparties/list", params={"relationship_type": "EMPLOYEE"})) == 1
    assert [c["id"] for c in api.ok("GET", "/v1/counterparties/list", params={"fullname": "ben"})] == [
        created["id"]
    ]


@pytest.mark.parametrize("relationship", [r.value for r in RelationshipType])
def test_all_twelve_relationship_types(api: Api, relationship: str) -> None:
    assert api.counterparty(api.party()["id"], relationship)["relationship_type"] == relationship


@pytest.mark.parametrize("relationship", ["OTHER", "customer", ""])
def test_other_relationship_types_are_refused(api: Api, relationship: str) -> None:
    r = api.post(
        "/v1/counterparties/create", json={"relationship_type": relationship, "party_id": api.party()["id"]}
    )
    assert locs(r) == [["body", "relationship_type"]]


def test_counterparty_party_must_exist_and_be_an_int(sb: object, api: Api) -> None:
    assert locs(
        api.post("/v1/counterparties/create", json={"relationship_type": "CUSTOMER", "party_id": 77})
    ) == [["body", "party_id"]]
    party = api.party()
    r = api.post(
        "/v1/counterparties/create", json={"relationship_type": "CUSTOMER", "party_id": str(party["id"])}
    )
    assert locs(r) == [["body", "party_id"]]


def test_counterparty_without_party(api: Api) -> None:
    assert api.ok("POST", "/v1/counterparties/create", json={"relationship_type": "SELF"})["party_id"] is None


def test_counterparty_404(api: Api) -> None:
    assert api.get("/v1/counterparties/retrieve/5").status_code == 404
    assert api.put("/v1/counterparties/update/5", json={}).status_code == 404
