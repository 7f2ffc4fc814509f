"""Social engagement: points for a share, tag or follow, by platform, within a daily cap.

The program sets the points per platform and action. A post earns once,
whatever is done with it and however often it is reported; in a program
that pays for social actions, a share on a platform it does not name is
refused, naming those it does, since that is most likely a misspelt name (a
program without social points records shares as activity only). A member earns at
most ``daily_cap_points`` a day (the event's day in the program's time zone) from social actions, and
an action that would pass the cap earns what is left of it. Every action
leaves an activity row; one that earns leaves a ledger entry saying how.
The state remembers the social points of the ``DAYS_REMEMBERED`` days up to
the member's latest paid share, so a late share counts against its own day's
cap; one dated before them is refused as too late, since its day's points are
forgotten. The posts that earned on those days are all remembered, so within
them no post earns twice; older posts are kept up to ``POSTS_REMEMBERED`` in
all, the newest.
"""

from __future__ import annotations

from datetime import date, timedelta

from processors.compiled import CompiledProgram
from processors.events import SocialShare
from processors.money import format_points
from processors.outputs import Activity, Decision, LedgerReason, Output
from processors.points import credit
from processors.refusals import refuse
from processors.state import MemberState

POSTS_REMEMBERED = 1000
DAYS_REMEMBERED = 7


def social_points(state: MemberState, event: SocialShare, rules: CompiledProgram) -> Decision:
    points, detail = _earned(state, event, rules)
    if points is None:
        return refuse(state, event, detail)
    outputs: list[Output] = []
    if points:
        outputs.append(credit(state, event, rules, LedgerReason.SOCIAL, points, detail))
    outputs.append(Activity(event.event_id, event.member_id, event.occurred_at, "social_share", None, None, None,
                            0, points, None))
    return Decision(state, tuple(outputs))


def _earned(state: MemberState, event: SocialShare, rules: CompiledProgram) -> tuple[int | None, str]:
    """Points for the action (recording the post and the day's total when it earns), and why; None, and why, for
    a share on a platform the program does not know (a misspelt name, most likely) or too late to tell."""
    social = rules.social
    what = f"{event.action.value} of post {event.post_id} on {event.platform}"
    if social is None:
        return 0, f"{rules.name} gives no points for social actions"
    if event.platform not in social.points:
        return None, (f"platform {event.platform!r} is not one of {rules.name}'s social platforms "
                      f"({', '.join(sorted(social.points))}): check its spelling")
    offered = social.points[event.platform].get(event.action.value, 0)
    if not offered:
        return 0, f"a {what} earns no points in {rules.name}"
    post = f"{event.platform}:{event.post_id}"
    if post in state.social_posts:
        return 0, f"post {event.post_id} on {event.platform} has already earned points"
    day = rules.local(event.occurred_at).date().isoformat()
    days = state.social_days
    if days and day < _first_remembered(max(days)):
        return None, (f"too late: shares are paid within {DAYS_REMEMBERED} days of the member's latest paid one "
                      f"({max(days)}); this {what} is dated {day}")
    today = days.get(day, 0)
    cap = social.daily_cap_points
    points = offered if cap is None else max(0, min(offered, cap - today))
    if not points:
        return 0, f"the daily social cap of {format_points(cap or 0)} is reached"
    detail = f"{format_points(offered)} for a {what}"
    if points < offered:
        detail += f", {format_points(points)} left under the daily cap of {format_points(cap or 0)}"
    days[day] = today + points
    first = _first_remembered(max(days))
    for forgotten in [key for key in days if key < first]:
        del days[forgotten]
    posts = state.social_posts
    posts[post] = day
    while len(posts) > POSTS_REMEMBERED:
        oldest = next(iter(posts))
        if posts[oldest] >= first:  # earned on a day still remembered: kept, so none there earns twice
            break
        del posts[oldest]
    return points, detail


def _first_remembered(latest: str) -> str:
    """The first of the ``DAYS_REMEMBERED`` days ending with the ``latest`` a share was paid for."""
    return (date.fromisoformat(latest) - timedelta(days=DAYS_REMEMBERED - 1)).isoformat()
