"""Social engagement: points for a share, tag or follow, by platform, within a daily cap.

The program sets the points per platform and action. A post earns once,
whatever is done with it and however often it is reported; a member earns at
most ``daily_cap_points`` a day (the event's UTC day) from social actions, and
an action that would pass the cap earns what is left of it. Every action
leaves an activity row; one that earns leaves a ledger entry saying how.
The posts that earned are remembered (up to ``POSTS_REMEMBERED``, the newest),
and the points of the latest ``DAYS_REMEMBERED`` days, so a late event still
counts against its own day's cap.
"""

from __future__ import annotations

from processors.compiled import CompiledProgram
from processors.events import SocialShare
from processors.money import format_points
from processors.outputs import Activity, Decision, LedgerReason, Output
from processors.points import credit
from processors.state import MemberState

POSTS_REMEMBERED = 1000
DAYS_REMEMBERED = 7


def social_points(state: MemberState, event: SocialShare, rules: CompiledProgram) -> Decision:
    points, detail = _earned(state, event, rules)
    outputs: list[Output] = []
    if points:
        outputs.append(credit(state, event, rules, LedgerReason.SOCIAL, points, detail))
    outputs.append(Activity(event.event_id, event.member_id, event.occurred_at, "social_share", None, None, None,
                            0, points, None))
    return Decision(state, tuple(outputs))


def _earned(state: MemberState, event: SocialShare, rules: CompiledProgram) -> tuple[int, str]:
    """Points for the action (recording the post and the day's total when it earns), and why."""
    social = rules.social
    offered = 0 if social is None else social.points.get(event.platform, {}).get(event.action.value, 0)
    what = f"{event.action.value} of post {event.post_id} on {event.platform}"
    if not offered:
        return 0, f"a {what} earns no points in {rules.name}"
    assert social is not None
    post = f"{event.platform}:{event.post_id}"
    if post in state.social_posts:
        return 0, f"post {event.post_id} on {event.platform} has already earned points"
    day = event.occurred_at.date().isoformat()
    days = state.social_days
    today = days.get(day, 0)
    cap = social.daily_cap_points
    points = offered if cap is None else max(0, min(offered, cap - today))
    if not points:
        return 0, f"the daily social cap of {format_points(cap or 0)} is reached"
    detail = f"{format_points(offered)} for a {what}"
    if points < offered:
        detail += f", {format_points(points)} left under the daily cap of {format_points(cap or 0)}"
    posts = state.social_posts
    posts[post] = day
    if len(posts) > POSTS_REMEMBERED:
        del posts[next(iter(posts))]
    days[day] = today + points
    if len(days) > DAYS_REMEMBERED:
        del days[min(days)]
    return points, detail
