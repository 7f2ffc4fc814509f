"""Program files: a mistake is named by file, line and field, with what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from processors.explain import explain
from streams.cli import main
from streams.program_file import ProgramFileError, load_program, parse_program

EXAMPLES = Path(__file__).parents[2] / "examples"

BAD = """\
name: Bad
currency: sek
earn:
  points: 0
  per_amount: 10
tiers:
  - {name: Silver}
  - qualifying_visits: 10
    earn_multiplier_bp: 12000
stamp_cards:
  - {name: coffee, stamps: 10, per: visit, reward: free_coffee}
"""


def test_every_mistake_is_named_by_line_and_field_with_what_is_allowed() -> None:
    with pytest.raises(ProgramFileError) as raised:
        parse_program(BAD, "bad.yaml")

    assert raised.value.problems == [
        "2: currency: 'sek' is not an ISO 4217 code: write three capital letters, e.g. SEK or EUR",
        "4: earn.points: Input should be greater than 0",
        "5: earn.per_amount: unknown field; allowed here: points, per_amount_minor, minimum_spend_minor, "
        "carry_remainder",
        "8: tiers.1.name: required, but missing",
        "11: stamp_cards.0.per: Input should be 'purchase' or 'item'",
    ]
    assert str(raised.value).splitlines()[0].startswith("bad.yaml:2: currency:")


def test_a_field_of_the_wrong_shape_says_the_shape_it_wants_in_plain_words_in_line_order() -> None:
    with pytest.raises(ProgramFileError) as raised:
        parse_program("name: X\ncurrency: SEK\nexpiry: 3\nexcluded_categories: gift_cards\n"
                      "category_multipliers_bp: [1, 2]\n", "shapes.yaml")

    assert raised.value.problems == [
        "3: expiry: must be a section of fields, one 'field: value' a line, not 3",
        "4: excluded_categories: must be a list, e.g. [a, b] or one '- item' a line, not 'gift_cards'",
        "5: category_multipliers_bp: must be a mapping, one 'name: value' a line, not a list",
    ]


def test_rules_across_fields_name_the_section_they_concern() -> None:
    text = "name: X\ncurrency: SEK\ntiers:\n  - {name: Gold, qualifying_spend_minor: 100}\n"
    with pytest.raises(ProgramFileError, match=r"^x.yaml:3: tiers: the first tier \(Gold\) is the base tier"):
        parse_program(text, "x.yaml")
    text = "name: X\ncurrency: SEK\ntiers:\n  - {name: Base}\n  - {name: Gold}\n"
    with pytest.raises(ProgramFileError, match=r"^x.yaml:3: tiers: Gold needs a threshold: qualifying_spend_minor, "):
        parse_program(text, "x.yaml")


def test_a_rule_within_a_section_names_the_field_it_concerns() -> None:
    text = "name: X\ncurrency: SEK\nexpiry:\n  after_days: 10\n  at: year_end\n"
    with pytest.raises(ProgramFileError) as raised:
        parse_program(text, "x.yaml")
    assert raised.value.problems == [
        "5: expiry.at: points expire either after_days after they were earned or at a period's end, not both: "
        "remove one"]
    with pytest.raises(ProgramFileError, match=r"4: pending_days: points can be pending at most the return window"):
        parse_program("name: X\ncurrency: SEK\nreturn_window_days: 7\npending_days: 8\n", "x.yaml")


def test_a_whole_number_is_written_as_one_and_no_figure_can_overflow_the_contracts() -> None:
    """50.00 is not 5,000 öre nor 50 öre: a field of minor units, points or basis points takes an integer. Each
    has an upper bound far above any program's, so that no output outgrows the contracts' 64-bit longs."""
    text = ("name: X\ncurrency: SEK\nearn:\n  minimum_spend_minor: 50.00\n  points: 99999999999999999999\n"
            "category_multipliers_bp: {shoes: 999999999999999999999}\nwelcome_bonus_points: true\n"
            "return_window_days: 1000000\n")
    with pytest.raises(ProgramFileError) as raised:
        parse_program(text, "x.yaml")
    assert raised.value.problems == [
        "4: earn.minimum_spend_minor: Input should be a valid integer",
        "5: earn.points: Input should be less than or equal to 1000000000",
        "6: category_multipliers_bp.shoes: Input should be less than or equal to 100000",
        "7: welcome_bonus_points: Input should be a valid integer",
        "8: return_window_days: Input should be less than or equal to 36600",
    ]
    with pytest.raises(ProgramFileError, match=r"^x.yaml:3: earn: at most 100 points a minor unit"):
        parse_program("name: X\ncurrency: SEK\nearn: {points: 1000, per_amount_minor: 1}\n", "x.yaml")


def test_a_purchase_at_the_bounds_of_every_rate_fits_a_64_bit_long() -> None:
    """A 100 million SEK order (10^10 öre) at the highest rate, 100 points an öre, with the highest multiplier (x10)
    on the line, the tier and the payment earns 10^15 points; a campaign at x10 adds 9 x 10^15 and its bonus 10^9:
    10,000,001,000,000,000 in all, far below 2^63 (about 9.2 x 10^18), even with a hundred such campaigns."""
    import datetime as dt

    from processors.events import Channel, Purchase, PurchaseLine
    from processors.outputs import LedgerEntry
    from processors.program import MAX_MULTIPLIER_BP, MAX_POINTS
    from processors.simulate import member_in_tier, simulate

    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    most = MAX_MULTIPLIER_BP
    rules = parse_program(f"""
name: X
currency: SEK
earn: {{points: 100, per_amount_minor: 1}}
category_multipliers_bp: {{shoes: {most}}}
payment_multipliers_bp: {{card: {most}}}
tiers: [{{name: Base, earn_multiplier_bp: {most}}}]
campaigns:
  - {{id: c, name: C, starts: 2025-01-01T00:00:00Z, ends: 2027-01-01T00:00:00Z, multiplier_bp: {most},
      bonus_points: {MAX_POINTS}}}
""", "x.yaml")
    order = Purchase("e1", "m1", now, "t", "o1", Channel.WEB, None, "SEK", 10**10,
                     (PurchaseLine("1", "S", "shoes", 1, 10**10),), "card", None)
    answer = simulate(member_in_tier("m1", "Base", 0, now), order, rules)
    assert sum(o.points for o in answer.decision.outputs if isinstance(o, LedgerEntry)) == 10**16 + 10**9


def test_broken_yaml_and_unknown_sections_are_named_too() -> None:
    with pytest.raises(ProgramFileError, match=r"^y.yaml:2: not valid YAML"):
        parse_program("name: [unclosed\ncurrency: SEK\n", "y.yaml")
    with pytest.raises(ProgramFileError, match=r"3: referals: unknown field; allowed here: name, currency, earn"):
        parse_program("name: X\ncurrency: SEK\nreferals: {}\n", "z.yaml")


def test_a_key_given_twice_is_refused_where_yaml_would_keep_the_last() -> None:
    text = "name: X\ncurrency: SEK\ncategory_multipliers_bp:\n  shoes: 15000\n  shoes: 5000\n"
    with pytest.raises(ProgramFileError, match=r"^x.yaml:5: shoes: given twice \(first on line 4\)$"):
        parse_program(text, "x.yaml")
    with pytest.raises(ProgramFileError, match=r"^x.yaml:3: name: given twice \(first on line 1\)$"):
        parse_program("name: X\ncurrency: SEK\nname: Y\n", "x.yaml")
    with pytest.raises(ProgramFileError, match=r"^x.yaml:1: a: given twice \(first on line 1\)$"):
        parse_program("{a: 1, a: 2}\n", "x.yaml")
    # A merge (<<) is there to be overridden: its keys are no repeats.
    merged = ("name: X\ncurrency: SEK\ntiers:\n  - &base {name: Base}\n"
              "  - {<<: *base, name: Gold, qualifying_visits: 5}\n")
    assert [tier.name for tier in parse_program(merged, "x.yaml").tiers] == ["Base", "Gold"]


def test_program_check_answers_ok_or_lists_the_problems_and_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    runner = CliRunner()

    ok = runner.invoke(main, ["program", "check", str(EXAMPLES / "cafe.yaml")])
    failed = runner.invoke(main, ["program", "check", str(bad)])
    missing = runner.invoke(main, ["program", "check", str(tmp_path / "none.yaml")])

    assert ok.exit_code == 0 and "ok, program 'Kaffebaren' in SEK" in ok.output
    assert failed.exit_code == 2 and f"{bad}:5: earn.per_amount: unknown field" in failed.output
    assert missing.exit_code == 2 and "cannot read the program file" in missing.output


def test_explain_tells_a_member_every_mechanic_the_program_switches_on() -> None:
    words = "\n".join(explain(load_program(EXAMPLES / "fashion.yaml")))

    for phrase in ("100 points as a welcome gift", "1 point for every 10.00 SEK", "Orders under 50.00 SEK",
                   "shoes x1.5", "SHO-0001 x3", "Paying with nordic_style_card earns x2",
                   "Gold comes with 5,000.00 SEK spent or 12 visits in the last 12 months and earns x1.25",
                   "A visit is an order with something in it that counts towards tiers; returning all of that takes",
                   "When it ends, you hold the tier you earned yourself",
                   "Gold perks: free_shipping, early_sale_access", "a share on instagram earns 20 points",
                   "At most 60 points a day from social", "A return within 30 days",
                   "can be spent 14 days after it", "after 24 months without any activity",
                   "Style Plus: 499.00 SEK gives you Gold for 12 months", "Black Friday double points: points x2",
                   "ask us to forget you: your account then closes, the points left on it lapse"):
        assert phrase in words
    runner = CliRunner().invoke(main, ["program", "explain", str(EXAMPLES / "cafe.yaml")])
    assert runner.exit_code == 0 and "10 stamps give you free_coffee" in runner.output


def test_ids_must_be_unique_and_vouchers_must_name_known_partners() -> None:
    text = """\
name: X
currency: SEK
rewards:
  - {id: a, name: A, kind: discount, points: 1}
  - {id: b, name: B, kind: partner_voucher, partner: zoo, points: 2}
"""
    with pytest.raises(ProgramFileError) as raised:
        parse_program(text, "x.yaml")
    assert raised.value.problems == ["3: rewards: partner zoo is not in partners (known: none)"]

    with pytest.raises(ProgramFileError) as raised:
        parse_program(text.replace("id: b", "id: a"), "x.yaml")
    assert raised.value.problems == ["3: rewards: each entry of rewards needs its own id; repeated: a"]


def test_a_program_file_is_utf8_with_or_without_a_byte_order_mark(tmp_path: Path) -> None:
    with_mark, latin1 = tmp_path / "bom.yaml", tmp_path / "latin1.yaml"
    with_mark.write_bytes(b"\xef\xbb\xbfname: Kaffebaren\ncurrency: SEK\n")
    latin1.write_bytes("name: Kaffebaren\ncurrency: SEK\nrewards:\n  - {id: bulle, name: Kanelbulle på huset, "
                       "points: 50}\n".encode("latin-1"))

    assert load_program(with_mark).name == "Kaffebaren"
    with pytest.raises(ProgramFileError) as raised:
        load_program(latin1)
    # "  - {id: bulle, name: Kanelbulle p" is 34 characters
    assert raised.value.problems == ["4: not UTF-8 text (byte 0xe5 at column 35, 'å' in Windows-1252 or Latin-1): "
                                     "save the file as UTF-8"]
    for command in (["program", "check"], ["program", "explain"], ["simulate", "--line", "shoes:100", "--program"]):
        result = CliRunner().invoke(main, [*command, str(latin1)])
        assert result.exit_code == 2 and f"{latin1}:4: not UTF-8 text" in result.output, (command, result.output)
