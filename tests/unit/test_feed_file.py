"""Feed files (JSON Lines, CSV): every event checked against the contract, every mistake named by line and field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from schemas.codec import AvroCodec
from schemas.registry import EmbeddedRegistry
from streams.cli import main
from streams.feed_file import check_feed, feed_events, read_feed

FEEDS = Path(__file__).parents[2] / "examples" / "feeds"
DAY = timedelta(days=1)  # ingest's margin for clocks, by default

ORDER = {"type": "Purchase", "event_id": "pos-1", "occurred_at": "2026-11-24T14:20:00+01:00", "source": "pos:store-7",
         "member_id": "ben", "order_id": "P1", "channel": "pos", "store_id": "store-7", "currency": "SEK",
         "total_minor": 64800, "payment_method": "card",
         "lines": [{"line_id": "1", "sku": "SHO-1", "category": "shoes", "quantity": 1, "amount_minor": 49900},
                   {"line_id": "2", "sku": "SOC-7", "category": "socks", "quantity": 2, "amount_minor": 14900}]}
ORDER_CSV = """\
type,event_id,occurred_at,source,member_id,order_id,channel,store_id,currency,total_minor,payment_method,line_id,sku,category,quantity,amount_minor
Purchase,pos-1,2026-11-24T14:20:00+01:00,pos:store-7,ben,P1,pos,store-7,SEK,64800,card,1,SHO-1,shoes,1,49900
Purchase,pos-1,,,,,,,,,,2,SOC-7,socks,2,14900
"""


def written(tmp_path: Path, name: str, *lines: dict[str, Any] | str) -> Path:
    path = tmp_path / name
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def test_the_example_feeds_are_valid_and_every_event_encodes() -> None:
    paths = [FEEDS / "week.jsonl", FEEDS / "store-sales.csv"]
    checked = check_feed(paths, DAY)

    assert checked.problems == []
    assert dict(checked.events) == {"MemberEnrolled": 2, "CardLinked": 1, "Purchase": 4, "SocialShare": 1,
                                    "Return": 1, "Redemption": 1, "SurveyAnswered": 1}
    codec = AvroCodec(EmbeddedRegistry())
    for event in feed_events(paths):
        assert codec.decode(codec.encode("loyalty.events.v1", "LoyaltyEvent", event.record)) == event.record


def test_a_csv_order_of_several_rows_is_the_same_event_as_its_json_line(tmp_path: Path) -> None:
    [from_json] = feed_events([written(tmp_path, "order.jsonl", ORDER)])
    csv_path = tmp_path / "order.csv"
    csv_path.write_text(ORDER_CSV)
    [from_csv] = feed_events([csv_path])

    assert from_csv.record == from_json.record
    assert from_json.key == b"pos:store-7"
    assert from_json.record["occurred_at"] == datetime(2026, 11, 24, 13, 20, tzinfo=UTC)  # to UTC
    body = from_json.record["body"]
    assert body[0] == "loyalty.v1.Purchase" and body[1]["points_used"] == 0 and body[1]["partner_id"] is None
    assert (from_json.line, from_csv.line) == (1, 2)


def test_a_card_feed_names_the_card_token_and_a_card_link_keeps_its_token_in_the_body(tmp_path: Path) -> None:
    card_sale = {**ORDER, "member_id": None, "card_token": "tok_9"}
    link = {"type": "card_linked", "event_id": "c1", "occurred_at": "2026-11-24T10:00:00Z", "source": "app",
            "member_id": "ben", "card_token": "tok_9"}
    sale, linked = feed_events([written(tmp_path, "cards.jsonl", card_sale, link)])

    assert (sale.record["member_id"], sale.record["card_token"]) == (None, "tok_9")
    assert linked.record["card_token"] is None and linked.record["body"] == ("loyalty.v1.CardLinked",
                                                                              {"card_token": "tok_9"})


def with_lines(**changes: Any) -> dict[str, Any]:
    return {**ORDER, "lines": [{**ORDER["lines"][0], **changes}], "total_minor": 49900}


@pytest.mark.parametrize(("line", "problem"), [
    ("not json", "not JSON (Expecting value at column 1): write one JSON object a line"),
    ("[1, 2]", "not a JSON object: [1, 2]"),
    ({**ORDER, "type": None}, "type: missing: one of CardLinked, CardUnlinked, Donation, MemberEnrolled, MemberErased, "
                              "MemberSegments, MembershipPaid, Purchase, Redemption, RedemptionCancelled, Referral, "
                              "Return, SocialShare, SurveyAnswered, TierAssigned"),
    ({**ORDER, "type": "Order"}, "type: 'Order' is not an event type: one of CardLinked, "),
    ({**ORDER, "type": "CampaignAward"}, "type: CampaignAward events are sent by the engine itself, not by a feed"),
    ({**ORDER, "colour": "red"}, "colour: not a field of a Purchase event; its fields are card_token, channel, "),
    ({k: v for k, v in ORDER.items() if k != "order_id"}, "order_id: missing"),
    ({**ORDER, "total_minor": 648.00}, "total_minor: must be a whole number (money in minor units: 29900 for "
                                       "299.00), got 648.0"),
    ({**ORDER, "total_minor": "64800"}, "total_minor: must be a whole number"),
    (with_lines(quantity=True), "lines[0].quantity: must be a whole number, got True"),
    (with_lines(quantity=2**31), "lines[0].quantity: 2147483648 is out of range"),
    (with_lines(size="M"), "lines[0].size: not a field here; the fields are amount_minor, category, line_id, "
                           "quantity, sku"),
    ({**ORDER, "lines": {"line_id": "1"}}, "lines: must be a list, got {'line_id': '1'}"),
    ({**ORDER, "lines": ["1"]}, "lines[0]: must be an object with line_id, sku, category, quantity, amount_minor"),
    ({**ORDER, "channel": "phone"}, "channel: 'phone' is not one of web, pos, card, app"),
    ({**ORDER, "occurred_at": "2026-11-24 14:20"}, "occurred_at: '2026-11-24 14:20' has no UTC offset: add one, "
                                                   "e.g. 2026-11-24 14:20Z for UTC"),
    ({**ORDER, "occurred_at": "yesterday"}, "occurred_at: must be an ISO 8601 time with a UTC offset"),
    ({**ORDER, "occurred_at": 1764000000000}, "occurred_at: must be an ISO 8601 time with a UTC offset"),
    ({**ORDER, "occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at 0001-01-01 00:00 UTC is before 1970-01-01: "
                                                       "times from 1970 to 2099 are accepted; check the year"),
    ({**ORDER, "member_id": None}, "member_id: missing: a card feed sends card_token (of a linked card) instead"),
    ({**ORDER, "store_id": 7}, "store_id: must be text, got 7"),
    ({**ORDER, "store_id": "4111 1111 1111 1111"}, "store_id: holds a card number (PAN): send the card's token, "
                                                   "never the number"),
    (with_lines(quantity=0), "lines[0].quantity must be positive, got 0"),  # the rules' own check, as ingest's
    ({**ORDER, "member_id": " ben "}, "member_id ' ben ' starts or ends with white space: send the id without it"),
    ({**ORDER, "total_minor": 1}, "total_minor 1 is not the sum of lines[].amount_minor (64800)"),
    # json keeps the last of a key given twice: ben's order, not anna's, with no word said
    ('{"type": "Purchase", "member_id": "anna", "member_id": "ben"}', "member_id: given twice on this line"),
    (json.dumps(ORDER).replace('"sku": "SHO-1"', '"sku": "SHO-1", "sku": "SHO-2"'), "sku: given twice on this line"),
])
def test_every_mistake_is_named_by_file_line_and_field(tmp_path: Path, line: dict[str, Any] | str,
                                                       problem: str) -> None:
    path = written(tmp_path, "feed.jsonl", ORDER, "", line)
    found = [item for item in read_feed(path) if isinstance(item, str)]

    assert len(found) == 1
    assert found[0].startswith(f"{path}:3: {problem}")
    assert "4111" not in found[0]  # a card number is never repeated back


@pytest.mark.parametrize(("text", "problem"), [
    ("type,event_id,colour\n", "feed.csv:1: column colour: not a field of any event; the columns are action, "
                                "amount_minor, "),
    (ORDER_CSV + "Purchase,pos-1,,,,,,,,,,3,HAT-1,hats,1,100,extra\n", "feed.csv:4: 17 cells, but the header has 16 "
                                                                      "columns"),
    (ORDER_CSV.replace("pos-1,,,,,,,,,,2,", "pos-1,,,,,,,EUR,,,2,"),
     "feed.csv:3: currency: 'EUR' differs from 'SEK' on line 2, the first row of event pos-1: a row after the first "
     "may only add a line"),
    (ORDER_CSV.replace(",2,SOC-7,socks,2,", ",2,SOC-7,socks,two,"), "feed.csv:2: lines[1].quantity: must be a whole "
                                                                    "number, got 'two'"),
    ("type,event_id,member_id,source,member_id\nMemberEnrolled,e1,anna,app,ben\n",
     "feed.csv:1: column member_id: given twice (columns 3 and 5): give each column once"),
])
def test_a_csv_mistake_is_named_by_line_and_column(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "feed.csv"
    path.write_text(text)
    found = [item for item in read_feed(path) if isinstance(item, str)]

    assert found[0].removeprefix(f"{tmp_path}/").startswith(problem)


def test_an_event_dated_past_ingests_margin_for_clocks_is_refused_as_ingest_would(tmp_path: Path) -> None:
    now = datetime(2026, 11, 25, 9, tzinfo=UTC)
    path = written(tmp_path, "feed.jsonl", {**ORDER, "event_id": "a", "occurred_at": "2026-11-26T09:00:00+01:00"},
                   {**ORDER, "event_id": "b", "occurred_at": "2062-11-25T10:00:00+01:00"})

    checked = check_feed([path], DAY, now)

    assert checked.problems == [  # 23 hours ahead is a clock that is off; 36 years is a mistyped year
        f"{path}:2: occurred_at 2062-11-25 09:00 UTC is 13149 days after now (2026-11-25 09:00 UTC), beyond the "
        "1-day margin for clocks: check the source's clock and the event's year"]
    assert checked.events == {"Purchase": 1}


def test_one_event_id_may_not_name_two_different_events_in_a_file_or_across_the_files_sent_together(
    tmp_path: Path,
) -> None:
    # Two orders of 648 and 2,000 kr under one id: the engine would apply the first and drop the second unseen.
    coat = {"line_id": "1", "sku": "COA-1", "category": "coats", "quantity": 1, "amount_minor": 200000}
    other_order = {**ORDER, "order_id": "P2", "total_minor": 200000, "lines": [coat]}
    first = written(tmp_path, "first.jsonl", ORDER, other_order)
    second = tmp_path / "second.csv"  # the first file's first order again, as CSV: the same event
    second.write_text(ORDER_CSV)
    third = written(tmp_path, "third.jsonl", {**ORDER, "member_id": "anna"})

    checked = check_feed([first, second, third], DAY)

    assert checked.problems == [
        f"{first}:2: event_id pos-1: already used by a different event on line 1: give each event its own event_id",
        f"{third}:1: event_id pos-1: already used by a different event on line 1 ({first}): give each event its "
        "own event_id"]
    assert checked.repeats == [f"{second}:2: event_id pos-1: the same event as on line 1 ({first}): the engine "
                               "applies it once"]
    assert checked.events == {"Purchase": 2}


def test_an_event_bigger_than_a_kafka_message_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    # A line takes 27 bytes in Avro (line_id 1+6, sku 1+10, category 1+5, quantity 1, amount 2): 40,000 lines take
    # 1,080,000, and 1,080,143 with the rest of the event, its key and the client's framing, over the 1,000,000 the
    # producer sends (the client refused it half-way through the file); 40,000 x 1,000,000 / 1,080,143 fit.
    lines = [{"line_id": f"{n:06}", "sku": "SOCK-00001", "category": "socks", "quantity": 1, "amount_minor": 4900}
             for n in range(40_000)]
    path = written(tmp_path, "big.jsonl", {**ORDER, "event_id": "small"},
                   {**ORDER, "event_id": "big", "lines": lines, "total_minor": 4900 * 40_000})

    checked = check_feed([path], DAY)

    assert checked.problems == [
        f"{path}:2: lines: too many lines, 40,000, the most is 37,032 lines like these (an event is one Kafka message "
        "of at most 1,000,000 bytes, this one takes 1,080,143): split the order into several events"]
    assert checked.events == {"Purchase": 1}


def test_a_list_of_strings_is_one_csv_cell(tmp_path: Path) -> None:
    path = tmp_path / "segments.csv"
    path.write_text("type,event_id,occurred_at,source,member_id,segments\n"
                    "MemberSegments,seg-1,2026-11-24T00:00:00Z,crm,ben,vip; newsletter\n")
    [event] = feed_events([path])

    assert event.record["body"] == ("loyalty.v1.MemberSegments", {"segments": ["vip", "newsletter"]})


def test_feed_check_says_what_it_found_and_sends_nothing_when_a_line_is_wrong(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["feed", "--check", str(FEEDS / "week.jsonl"), str(FEEDS / "store-sales.csv")])
    assert ok.exit_code == 0, ok.output
    assert ok.output == ("ok: 11 events (CardLinked 1, MemberEnrolled 2, Purchase 4, Redemption 1, Return 1, "
                         "SocialShare 1, SurveyAnswered 1)\n")

    bad = written(tmp_path, "bad.jsonl", *[{**ORDER, "event_id": f"e{n}", "channel": "fax"} for n in range(25)])
    refused = runner.invoke(main, ["feed", str(bad)], env={"LOYALTY_DATA_DIR": str(tmp_path / "data")})
    assert refused.exit_code == 1
    assert refused.output.startswith(f"Error: 25 problem(s), nothing sent:\n{bad}:1: channel: 'fax' is not one of ")
    assert refused.output.endswith("\n... and 5 more\n")

    unknown = runner.invoke(main, ["feed", "--check", str(written(tmp_path, "feed.txt", ORDER))])
    assert unknown.exit_code == 1
    assert "feed.txt: cannot tell the format from the name: end it in .jsonl (JSON Lines) or .csv" in unknown.output


def test_feed_without_a_running_engine_says_to_start_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["feed", str(FEEDS / "week.jsonl")],
                                env={"LOYALTY_DATA_DIR": str(tmp_path), "LOYALTY_BROKER": "embedded"})

    assert result.exit_code == 1
    assert "no engine runs with data directory" in result.output
    assert "start `loyalty run` there first, or set LOYALTY_BROKER" in result.output


def test_a_byte_order_mark_is_no_part_of_the_first_column_or_line(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts the file with one: it read as a column named '\\ufefftype'."""
    csv_path, json_path = tmp_path / "excel.csv", tmp_path / "notepad.jsonl"
    csv_path.write_bytes(b"\xef\xbb\xbf" + ORDER_CSV.encode())
    json_path.write_bytes(b"\xef\xbb\xbf" + json.dumps(ORDER).encode() + b"\n")

    from_csv, from_json = feed_events([csv_path, json_path])
    assert from_csv.record == from_json.record and from_json.record["member_id"] == "ben"


def test_a_file_not_in_utf8_is_named_by_line_with_the_way_out(tmp_path: Path) -> None:
    csv_path = tmp_path / "latin1.csv"
    csv_path.write_bytes(ORDER_CSV.replace("store-7,SEK", "Göteborg,SEK").encode("latin-1"))
    json_path = tmp_path / "latin1.jsonl"
    malmo = json.dumps({**ORDER, "event_id": "pos-2", "store_id": "Malmö"}, ensure_ascii=False)
    json_path.write_bytes(f"{json.dumps(ORDER)}\n{malmo}\n".encode("cp1252"))

    checked = check_feed([csv_path, json_path], DAY, now=datetime(2026, 12, 1, tzinfo=UTC))
    assert checked.problems == [
        # Purchase,pos-1,2026-11-24T14:20:00+01:00,pos:store-7,ben,P1,pos, is 64 characters: then G, then ö
        f"{csv_path}:2: not UTF-8 text (byte 0xf6 at column 66, 'ö' in Windows-1252 or Latin-1): save the file as "
        "UTF-8 (in Excel: CSV UTF-8)",
        f"{json_path}:2: not UTF-8 text (byte 0xf6 at column {malmo.index('ö') + 1}, 'ö' in "
        "Windows-1252 or Latin-1): save the file as UTF-8",
    ]
