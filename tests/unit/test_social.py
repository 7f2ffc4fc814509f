"""Social engagement points: by platform and action, each post once, within a daily cap."""

from __future__ import annotations

from builders import Member, club, social_share

from processors.outputs import LedgerReason
from processors.program import SocialPoints


def social_member(cap: int | None = 50) -> Member:
    member = Member(club(welcome_bonus_points=0, social=SocialPoints(
        points={"instagram": {"share": 20, "tag": 10, "follow": 50}, "tiktok": {"share": 15}},
        daily_cap_points=cap)), "sam")
    member.enrol()
    return member


def test_a_share_earns_the_platforms_points_with_a_ledger_entry_that_says_why() -> None:
    sam = social_member()

    sam.share("p1")

    (entry,) = sam.ledger
    assert (entry.reason, entry.points, entry.balance_after) == (LedgerReason.SOCIAL, 20, 20)
    assert entry.detail == "20 points for a share of post p1 on instagram"
    assert sam.activity[-1].event_type == "social_share" and sam.activity[-1].points == 20


def test_the_same_post_never_earns_twice_whatever_is_done_with_it() -> None:
    sam = social_member()

    sam.share("p1")
    sam.share("p1", action="tag")
    sam.share("p1", platform="tiktok")  # another platform's post p1 is another post

    assert [e.points for e in sam.ledger] == [20, 15]


def test_the_daily_cap_pays_what_is_left_then_nothing_until_the_next_day() -> None:
    sam = social_member(cap=50)

    for post in ("a", "b", "c", "d"):
        sam.share(post)  # 20, 20, 10 (cap), 0
    assert [e.points for e in sam.ledger] == [20, 20, 10]
    assert "left under the daily cap of 50 points" in sam.ledger[-1].detail
    assert sam.balance == 50

    sam.later(days=1)
    sam.share("e")
    assert sam.balance == 70


def test_an_action_the_program_does_not_pay_on_its_platform_earns_nothing() -> None:
    sam = social_member()

    sam.share("p1", platform="tiktok", action="follow")

    assert sam.ledger == [] and sam.activity[-1].points == 0


def test_a_platform_the_program_does_not_know_is_refused_naming_those_it_pays_for() -> None:
    sam = social_member()

    for platform in ("myspace", "Instagram"):
        refused = sam.share("p2", platform=platform)

        assert refused.refusal is not None and refused.refusal.reason == (
            f"platform {platform!r} is not one of Club's social platforms (instagram, tiktok): check its spelling")
    assert sam.ledger == [] and sam.state is not None and not sam.state.social_posts


def test_a_late_share_counts_against_its_own_days_cap_not_todays() -> None:
    sam = social_member(cap=50)
    yesterday = sam.now
    sam.later(days=1)
    for post in ("a", "b", "c"):
        sam.share(post)  # today: 20 + 20 + 10
    late = social_share("sam", yesterday, post_id="late")
    sam.apply(late)  # yesterday had nothing: 20 more
    sam.share("d")  # today is still full

    assert [e.points for e in sam.ledger] == [20, 20, 10, 20]


def test_a_share_dated_before_the_days_the_member_state_remembers_is_refused_as_too_late() -> None:
    sam = social_member(cap=50)
    first_day = sam.now  # 1 March 2024
    for post in ("a", "b", "c"):
        sam.share(post)  # 20 + 20 + 10: 1 March is at the cap
    for day in range(7):
        sam.later(days=1)
        sam.share(f"d{day}")  # 20 a day, 2 to 8 March: the latest paid share is on 8 March
    assert sam.balance == 50 + 7 * 20

    late = sam.apply(social_share("sam", first_day, post_id="late"))  # 1 March: 7 days before 8 March

    assert late.refusal is not None
    assert late.refusal.reason == ("too late: shares are paid within 7 days of the member's latest paid one "
                                   "(2024-03-08); this share of post late on instagram is dated 2024-03-01")
    assert sam.balance == 190 and sam.state is not None and "2024-03-01" not in sam.state.social_days

    second_day = first_day.replace(day=2)  # 6 days before 8 March: still remembered, 20 of the 50 paid
    sam.apply(social_share("sam", second_day, post_id="late-2"))
    sam.apply(social_share("sam", second_day, post_id="late-3"))  # 10 left under the cap
    sam.apply(social_share("sam", second_day, post_id="d0"))  # the post of 2 March already earned
    assert [e.points for e in sam.ledger[-2:]] == [20, 10] and sam.balance == 220
