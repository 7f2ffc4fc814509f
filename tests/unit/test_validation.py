"""Impossible events are named field by field; card numbers never get through."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from builders import T0, card_linked, enrolled, kr, line, purchase, returned

from processors.events import MemberSegments, PurchaseLine, ReturnedLine, TierAssigned
from processors.validation import (
    EARLIEST,
    LATEST,
    MAX_ID_LENGTH,
    contains_pan,
    looks_like_pan,
    mask_pans,
    mask_pans_in_bytes,
    problems,
)

VISA = "4111111111111111"


def test_a_well_formed_event_has_no_problems() -> None:
    assert problems(purchase("anna", line(kr(100)), line(kr(50)))) == []
    assert problems(enrolled("anna")) == []
    assert problems(returned("anna", "o-1", {"l1": 1})) == []


def test_purchase_problems_name_the_field() -> None:
    event = replace(
        purchase("anna", line(kr(100))),
        event_id="",
        currency="sek",
        total_minor=kr(99),
        lines=(PurchaseLine("l1", "sku", "shoes", 0, -5), PurchaseLine("l1", "sku", "", 1, 10)),
    )

    assert problems(event) == [
        "event_id is empty",
        "currency 'sek' is not an ISO 4217 code (three capital letters)",
        "lines[0].quantity must be positive, got 0",
        "lines[0].amount_minor must not be negative, got -5",
        "lines[1].category is empty",
        "lines[1].line_id 'l1' appears twice in the order",
        "total_minor 9900 is not the sum of lines[].amount_minor (5)",
    ]


def test_a_purchase_needs_lines_and_a_non_negative_total() -> None:
    event = replace(purchase("anna", line(kr(1))), lines=(), total_minor=-1)

    assert problems(event) == [
        "total_minor must not be negative, got -1",
        "lines is empty: a purchase needs at least one line",
    ]


def test_a_returned_quantity_must_be_positive() -> None:
    event = replace(returned("anna", "o-1", {"l1": 1}), lines=(ReturnedLine("l1", 0),))

    assert problems(event) == ["lines[0].quantity must be positive, got 0"]


@pytest.mark.parametrize("birthday", ["5-17", "13-01", "02-30", "1990-05-17", "00-10"])
def test_a_birthday_is_a_day_of_the_year(birthday: str) -> None:
    event = replace(enrolled("anna"), birthday=birthday)

    assert problems(event) == [f"birthday {birthday!r} is not a day of the year as MM-DD"]


def test_the_29th_of_february_is_a_birthday() -> None:
    assert problems(replace(enrolled("anna"), birthday="02-29")) == []


def test_event_times_must_be_utc() -> None:
    naive = replace(enrolled("anna"), occurred_at=datetime(2024, 3, 1))
    stockholm = replace(enrolled("anna"), occurred_at=T0.astimezone(timezone(timedelta(hours=1))))

    assert problems(naive) == ["occurred_at has no time zone: send event times in UTC"]
    assert problems(stockholm) == ["occurred_at is at UTC+0100: send event times in UTC"]


def test_event_times_are_from_1970_to_2099() -> None:
    year_one = purchase("anna", line(kr(10)), at=datetime(1, 1, 1, tzinfo=UTC))
    for_ever = TierAssigned("t1", "anna", T0, "crm", "Gold", datetime(9999, 12, 31, tzinfo=UTC), "VIP")

    assert problems(year_one) == ["occurred_at 0001-01-01 00:00 UTC is before 1970-01-01: times from 1970 to 2099 "
                                  "are accepted; check the year"]
    assert problems(for_ever) == ["until 9999-12-31 00:00 UTC is after 2099-12-31: times from 1970 to 2099 are "
                                  "accepted; check the year"]
    assert datetime(1970, 1, 1, 0, 0, 0, 1_000, tzinfo=UTC) == EARLIEST
    assert datetime(2099, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC) == LATEST
    assert problems(purchase("anna", line(kr(10)), at=EARLIEST)) == []
    assert problems(replace(for_ever, occurred_at=LATEST - timedelta(days=1), until=LATEST)) == []


def test_the_unix_epoch_itself_is_refused_as_a_time_left_unset() -> None:
    unset = purchase("anna", line(kr(10)), at=datetime(1970, 1, 1, tzinfo=UTC))

    assert problems(unset) == ["occurred_at is 1970-01-01 00:00 UTC, the Unix epoch itself: a time left unset? send "
                               "the event's own time"]


def test_an_id_is_refused_padded_with_white_space_holding_a_control_character_or_too_long() -> None:
    """Ids are matched exactly: ' anna ' was another member than 'anna', and no source means one like it."""
    assert problems(enrolled(" anna ")) == [
        "member_id ' anna ' starts or ends with white space: send the id without it"]
    assert problems(enrolled("anna\nben")) == [
        "member_id 'anna\\nben' holds a character that does not print (a control character, line break, tab or the "
        "like): send the id as plain text"]
    assert problems(enrolled("a" * 100_000)) == ["member_id is 100,000 characters long: an id is at most 200"]
    assert problems(enrolled("a" * MAX_ID_LENGTH)) == []
    assert problems(enrolled("Åsa Öberg-Lind")) == []  # letters of any script and spaces inside are fine

    order = replace(purchase("anna", line(kr(100), sku="SHO-1 "), line(kr(50), line_id="2\t")),
                    event_id="e1\r", order_id="o" * 201, store_id="store-7\n")
    assert problems(order) == [
        "event_id 'e1\\r' starts or ends with white space: send the id without it",
        "order_id is 201 characters long: an id is at most 200",
        "store_id 'store-7\\n' starts or ends with white space: send the id without it",
        "lines[0].sku 'SHO-1 ' starts or ends with white space: send the id without it",
        "lines[1].line_id '2\\t' starts or ends with white space: send the id without it",
    ]
    assert problems(replace(card_linked("anna"), card_token="tok\x00")) == [
        "card_token 'tok\\x00' holds a character that does not print (a control character, line break, tab or the "
        "like): send the id as plain text"]
    assert problems(replace(enrolled("anna"), referred_by=" ben")) == [
        "referred_by ' ben' starts or ends with white space: send the id without it"]
    assert problems(MemberSegments("s1", "anna", T0, "crm", ("vip", " newsletter"))) == [
        "segments[1] ' newsletter' starts or ends with white space: send the id without it"]
    # Words for people are no ids: a note may run on, over lines.
    note = "VIP event guest,\nasked for by the store " * 9
    assert problems(TierAssigned("t1", "anna", T0, "crm", "Gold", None, note)) == []
    # A card number is masked here too.
    assert problems(card_linked("anna", token=f" {VISA}")) == [
        "card_token ' ************1111' starts or ends with white space: send the id without it",
        "card_token  ************1111 is a card number: send the token, never the number"]


def test_a_card_number_sent_as_a_token_is_a_problem_and_is_masked_in_the_message() -> None:
    found = problems(card_linked("anna", token=VISA))

    assert found == ["card_token ************1111 is a card number: send the token, never the number"]


@pytest.mark.parametrize("text", [VISA, "4111 1111 1111 1111", "4111-1111-1111-1111", "378282246310005"])
def test_card_numbers_are_recognised(text: str) -> None:
    assert looks_like_pan(text)


@pytest.mark.parametrize("text", ["4111111111111112", "411111111111", "41111111111111111111", "tok_4111", ""])
def test_other_numbers_are_not_card_numbers(text: str) -> None:
    assert not looks_like_pan(text)


def test_a_card_number_is_found_inside_text_but_not_inside_a_token() -> None:
    assert contains_pan("paid with 4111 1111 1111 1111 at the till")
    assert contains_pan("card:4111111111111111")
    # 5409831722549 passes the Luhn check, but glued to letters it is part of a token.
    assert not contains_pan("tok_b1a5409831722549")


def test_masking_keeps_the_last_four_digits_and_the_length() -> None:
    text = f"paid with 4111 1111 1111 1111 and {VISA}, order 4111111111111112"

    masked = mask_pans(text)

    assert masked == "paid with **** **** **** 1111 and ************1111, order 4111111111111112"
    assert len(masked) == len(text)
    assert contains_pan(text) and not contains_pan(masked)


def test_masking_bytes_keeps_the_length_so_avro_still_decodes() -> None:
    # An Avro string of 16 characters is preceded by its length, zigzag 32 = b" ".
    data = b"\x02\x08evt1 " + VISA.encode() + b"\x00"

    masked = mask_pans_in_bytes(data)

    assert masked == b"\x02\x08evt1 ************1111\x00"
    assert len(masked) == len(data)


def test_masking_bytes_finds_a_card_number_behind_a_length_byte_that_is_a_digit() -> None:
    # A 24-character string has length byte b"0"; its first 16 characters are a card number.
    data = b"0" + VISA.encode() + b"/store-12"

    assert mask_pans_in_bytes(data) == b"0************1111/store-12"


def test_bytes_that_are_not_ascii_are_left_alone() -> None:
    data = "Åsa köpte skor".encode() + b"\xff\x00"

    assert mask_pans_in_bytes(data) == data
