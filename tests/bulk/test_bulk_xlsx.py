"""Bulk files as Excel workbooks: read as text, and a phone number Excel already damaged refused."""

from __future__ import annotations

import io

import openpyxl
import pytest

from dollr_core.basics import phone
from dollr_core.bulk import recipient_file
from dollr_core.bulk.recipient_file import RowInput
from dollr_core.bulk.states import BulkError


def workbook_bytes(*rows: list[object], text_phone: bool = False) -> bytes:
    """A workbook as a person saves it from Excel: numbers stay numbers unless typed as text."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    if text_phone:
        for (cell,) in sheet.iter_rows(min_col=2, max_col=2):
            cell.number_format = "@"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


HEADING = ["name", "phone", "amount", "currency", "note", "reference"]


def test_the_excel_template_reads_back_as_its_example_rows() -> None:
    rows = recipient_file.parse_rows(recipient_file.template_xlsx())
    assert rows == recipient_file.parse_rows(recipient_file.template_csv())
    assert rows[0] == RowInput("Musa Kollie", "231880001234", "25.00", "USD", "March stipend", "STIPEND-0001")


def test_cells_typed_as_numbers_keep_their_digits_and_decimals() -> None:
    data = workbook_bytes(
        HEADING,
        ["Aline Uwase", "250780005678", 15000, "RWF", None, 7],
        ["Musa Kollie", 231880001234, 25.5, "USD", "March", "INV-1"],  # a whole number keeps its digits
    )
    assert recipient_file.parse_rows(data) == [
        RowInput("Aline Uwase", "250780005678", "15000", "RWF", "", "7"),
        RowInput("Musa Kollie", "231880001234", "25.5", "USD", "March", "INV-1"),
    ]


def test_headings_in_another_order_and_empty_rows_are_read() -> None:
    data = workbook_bytes(
        ["Currency", "Mobile number", "Full name", "Amount"], [], ["USD", "231880001234", "Ané", 5]
    )
    assert recipient_file.parse_rows(data) == [RowInput("Ané", "231880001234", "5", "USD")]


@pytest.mark.parametrize("damaged", [2.31771e11, 231771234567.5])
def test_a_phone_number_stored_as_a_float_is_refused_naming_the_row(damaged: float) -> None:
    data = workbook_bytes(HEADING, ["Ok", "231880001234", 1, "USD"], ["Musa", damaged, 1, "USD"])
    with pytest.raises(BulkError) as refused:
        recipient_file.parse_rows(data)
    message = str(refused.value)
    assert message.startswith("Row 3 of the file:")
    assert "format the phone column as Text" in message and "nothing was saved" in message


@pytest.mark.parametrize("damaged", ["2.31771E+11", "231771234567.0", "2,31771E+11"])
def test_a_csv_saved_by_excel_with_damaged_numbers_is_refused_naming_the_row(damaged: str) -> None:
    text = f'name,phone,amount,currency\nOk,231880001234,1,USD\nMusa,"{damaged}",1,USD\n'
    with pytest.raises(
        BulkError, match=r"^Row 3 of the file: the phone number reads .*format the phone column as Text"
    ):
        recipient_file.parse_rows(text)


def test_a_number_shown_in_scientific_format_is_refused() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADING)
    sheet.append(["Musa", 231771234567, 1, "USD"])
    sheet["B2"].number_format = "0.00E+00"
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(BulkError, match=r"Row 2 of the file: the phone number reads 2\.31771E\+11"):
        recipient_file.parse_rows(buffer.getvalue())


def test_a_text_cell_with_the_damage_is_refused_too() -> None:
    data = workbook_bytes(HEADING, ["Musa", "2.31771E+11", 1, "USD"], text_phone=True)
    with pytest.raises(BulkError, match="Row 2 of the file"):
        recipient_file.parse_rows(data)


def test_a_broken_workbook_says_so() -> None:
    data = workbook_bytes(HEADING, ["Musa", "231880001234", 1, "USD"])
    with pytest.raises(BulkError, match="cannot be opened"):
        recipient_file.parse_rows(data[: len(data) // 2])


def test_a_workbook_without_the_columns_names_them() -> None:
    with pytest.raises(BulkError, match="missing: phone"):
        recipient_file.parse_rows(workbook_bytes(["name", "amount", "currency"], ["Musa", 1, "USD"]))


def test_separators_with_dots_are_still_a_phone_number() -> None:
    assert not phone.looks_like_spreadsheet_number("231.77.123.4567")
    assert phone.normalize_phone("231.77.123.4567") == "231771234567"


@pytest.mark.parametrize("typed", ["231771234567.0", "2.31771E+11", "+2.31771e11"])
def test_a_number_a_spreadsheet_wrote_back_never_becomes_a_phone_number(typed: str) -> None:
    with pytest.raises(ValueError, match="format the phone column as Text"):
        phone.normalize_phone(typed)
