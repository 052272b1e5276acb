"""Parts done by well-kept libraries instead of by hand: e-mail syntax (email-validator), the TTL
cache (cachetools), phone lengths per country (phonenumbers), each with the rules we keep."""

from __future__ import annotations

import threading
import time

import pytest
from pydantic import TypeAdapter, ValidationError

from dollr_core.api.caches import TTLCache
from dollr_core.api.models import Email
from dollr_core.basics import validation
from dollr_core.basics.phone import normalize_phone
from dollr_core.team import users


@pytest.mark.parametrize(
    "typed", ["a@@b", "a@b", "amara@", "@example.com", "am ara@example.com", "a@exa mple.com", "a@.com"]
)
def test_malformed_e_mail_addresses_are_refused_everywhere(typed: str) -> None:
    with pytest.raises(ValueError, match="valid e-mail address"):
        validation.email_address(typed)
    with pytest.raises(users.UserError, match=r"Enter a valid e-mail address\."):
        users.normalize_email(typed)
    with pytest.raises(ValidationError, match=r"Enter an email address such as amara@example\.com"):
        TypeAdapter(Email).validate_python(typed)


def test_good_addresses_keep_working_in_lower_case() -> None:
    assert users.normalize_email("  Mia.Manager@Example.COM ") == "mia.manager@example.com"
    assert validation.email_address("josé@exämple.com") == "josé@exämple.com"
    assert TypeAdapter(Email).validate_python("Amara@Example.com") == "Amara@Example.com"  # sent as typed
    with pytest.raises(ValueError, match="too long"):
        validation.email_address("a" * 250 + "@example.com")


def test_a_full_cache_evicts_one_entry_instead_of_emptying_itself() -> None:
    cache: TTLCache[int, int] = TTLCache(60.0, max_entries=3)
    for key in range(3):
        cache.get_or_compute(key, lambda key=key: key * 10)
    cache.get_or_compute(0, lambda: -1)  # 0 is now the most recently used
    cache.get_or_compute(3, lambda: 30)
    assert len(cache) == 3
    calls: list[int] = []
    assert cache.get_or_compute(0, lambda: calls.append(0) or -1) == 0  # kept
    assert cache.get_or_compute(1, lambda: calls.append(1) or 11) == 11  # the oldest went
    assert calls == [1]


def test_entries_expire_and_concurrent_misses_compute_once() -> None:
    cache: TTLCache[str, int] = TTLCache(0.05)
    computed: list[int] = []
    started = threading.Barrier(5)

    def slow() -> int:
        computed.append(1)
        time.sleep(0.05)
        return len(computed)

    def ask() -> None:
        started.wait()
        cache.get_or_compute("quote", slow)

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert computed == [1]
    time.sleep(0.1)  # past the TTL
    assert cache.get_or_compute("quote", slow) == 2


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("23188000123456", "too long for country code +231 (LR): 11 digits follow"),
        ("2507800056789", "too long for country code +250 (RW)"),
        ("231771234567.0", "format the phone column as Text"),
        ("2.31771E+11", "format the phone column as Text"),
    ],
)
def test_numbers_of_an_impossible_length_for_their_country_are_refused(typed: str, said: str) -> None:
    with pytest.raises(ValueError, match=said.replace("(", r"\(").replace(")", r"\)").replace("+", r"\+")):
        normalize_phone(typed)


@pytest.mark.parametrize(
    "typed",
    [
        "231880001234",  # the sandbox's numbers: real to Dollr, not in libphonenumber's ranges
        "250780005678",
        "231771234567",  # the guides' sample number
        "999880001234",  # an unknown country code is for Dollr's operator look-up to refuse
        "+231 (77) 123-4567",
    ],
)
def test_numbers_strict_validators_reject_are_still_accepted(typed: str) -> None:
    assert normalize_phone(typed).isdigit()
