"""Reading the spreadsheet and writing the results: plain functions, no Dollr needed."""

from __future__ import annotations

import pytest

from dollr_core.basics import spreadsheet
from dollr_core.bulk import recipient_file
from dollr_core.bulk.recipient_file import RowInput
from dollr_core.bulk.states import BulkError


def test_template_reads_back_as_its_example_rows() -> None:
    template = recipient_file.template_csv()
    assert template.splitlines()[0] == spreadsheet.BYTE_ORDER_MARK + ",".join(recipient_file.TEMPLATE_COLUMNS)
    rows = recipient_file.parse_rows(template)
    assert rows[0] == RowInput("Musa Kollie", "231880001234", "25.00", "USD", "March stipend", "STIPEND-0001")
    assert rows[1].currency == "RWF" and rows[1].own_reference == ""


def test_headings_in_any_order_and_other_words() -> None:
    text = (
        "Currency;Mobile Number;Full_Name;Amount;Your reference\nUSD;+231 88 000 1234;Musa;1,250.50;INV-7\n"
    )
    [row] = recipient_file.parse_rows(text)
    assert row == RowInput("Musa", "+231 88 000 1234", "1,250.50", "USD", "", "INV-7")


def test_rows_pasted_from_a_spreadsheet_are_tab_separated() -> None:
    text = "name\tphone\tamount\tcurrency\nAmara Kamara\t231770001234\t10\tLRD\n\n"
    assert recipient_file.parse_rows(text) == [RowInput("Amara Kamara", "231770001234", "10", "LRD")]


def test_excel_files_in_utf8_with_bom_and_in_windows_1252() -> None:
    utf8 = "\ufeffname,phone,amount,currency\nJosé Ané,231880001234,5,USD\n".encode()
    windows = "name,phone,amount,currency\nJosé Ané,231880001234,5,USD\n".encode("cp1252")
    assert recipient_file.parse_rows(utf8)[0].name == "José Ané"
    assert recipient_file.parse_rows(windows)[0].name == "José Ané"


def test_quoted_cells_keep_their_commas() -> None:
    [row] = recipient_file.parse_rows(
        'name,phone,amount,currency,note\n"Kollie, Musa",231880001234,"1,000",USD,"a, b"\n'
    )
    assert (row.name, row.amount, row.note) == ("Kollie, Musa", "1,000", "a, b")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "empty"),
        ("name,phone,amount,currency\n", "no recipients"),
        ("name,phone,amount\nMusa,231880001234,5\n", "missing: currency"),
        ("who,what\nMusa,5\n", "missing: name, phone, amount, currency"),
    ],
)
def test_files_that_cannot_be_read_say_why(text: str, says: str) -> None:
    with pytest.raises(BulkError, match=says):
        recipient_file.parse_rows(text)


def test_too_many_rows_are_refused() -> None:
    text = "name,phone,amount,currency\n" + "Musa,231880001234,5,USD\n" * (recipient_file.MAX_ROWS + 1)
    with pytest.raises(BulkError, match="at most 2,000"):
        recipient_file.parse_rows(text)
