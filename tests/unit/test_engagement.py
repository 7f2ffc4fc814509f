"""Card links, referrals and shares are recorded without points, for now."""

from __future__ import annotations

from builders import Member, card_linked, referral, social_share

from processors.outputs import Activity


def test_linking_a_card_leaves_an_activity_row_without_the_token(anna: Member) -> None:
    balance = anna.balance
    decision = anna.apply(card_linked("anna", anna.later(), token="tok_secret_123"))

    (activity,) = decision.outputs
    assert isinstance(activity, Activity) and activity.event_type == "card_linked"
    assert "tok_secret_123" not in repr(decision.outputs)
    assert "tok_secret_123" not in repr(decision.state)
    assert anna.balance == balance


def test_referrals_and_shares_are_recorded_as_activity(anna: Member) -> None:
    anna.apply(referral("anna", anna.later()))
    anna.apply(social_share("anna", anna.later()))

    assert [a.event_type for a in anna.activity[-2:]] == ["referral", "social_share"]
    assert anna.balance == 100
