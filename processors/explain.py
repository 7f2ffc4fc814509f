"""A program's rules in plain words a member could read (``loyalty program explain``).

Written from the validated program and the same formatting helpers the ledger
uses, so what a member is told matches what the ledger will say.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from processors.money import format_money, format_multiplier, format_percent, format_points
from processors.program import BASIS_POINTS, Campaign, Expiry, Program
from processors.social import DAYS_REMEMBERED


def explain(program: Program) -> list[str]:
    """One paragraph per mechanic the program switches on, in the order a member meets them."""
    money = program.currency
    earn = program.earn
    rate = f"{format_points(earn.points)} for every {format_money(earn.per_amount_minor, money)} you spend"
    paragraphs = [f"{program.name}: how it works."]
    if program.welcome_bonus_points:
        paragraphs.append(f"When you join you get {format_points(program.welcome_bonus_points)} as a welcome gift.")
    if program.birthday_bonus_points:
        paragraphs.append(f"On your birthday you get {format_points(program.birthday_bonus_points)}.")
    earning = [f"You earn {rate}, worked out on the whole order and rounded down once."]
    if earn.carry_remainder:
        earning[0] = (f"You earn {rate}; parts of a point are kept and added to your next order, never lost; "
                      "a return takes back the part its order left over.")
    if earn.minimum_spend_minor:
        earning.append(f"Orders under {format_money(earn.minimum_spend_minor, money)} earn no points, and a "
                       "return that leaves less than that of an order takes back all its points.")
    excluded = sorted(program.excluded_categories) + sorted(program.excluded_skus)
    if excluded:
        earning.append(f"These earn no points and do not count towards tiers: {', '.join(excluded)}.")
    multiplied = {**program.category_multipliers_bp, **program.sku_multipliers_bp}
    if multiplied:
        earning.append("Some things earn differently: "
                       + ", ".join(f"{name} {format_multiplier(bp)}" for name, bp in multiplied.items()) + ".")
    if program.payment_multipliers_bp:
        earning.append("Paying with "
                       + " or ".join(f"{method} earns {format_multiplier(bp)}"
                                     for method, bp in program.payment_multipliers_bp.items()) + ".")
    paragraphs.append(" ".join(earning))
    if len(program.tiers) > 1:
        paragraphs.append(_tiers(program))
    for card in program.stamp_cards:
        what = "every purchase" if card.per == "purchase" else "every item you pay for"
        if card.categories:
            what += f" from {', '.join(sorted(card.categories))}"
        paragraphs.append(f"Stamp card {card.name}: one stamp for {what}. "
                          f"{card.stamps} stamps give you {card.reward}, and the card starts again.")
    if program.referral is not None:
        paragraphs.append(_referral(program))
    if program.social is not None:
        paragraphs.append(_social(program))
    for partner in program.partners:
        paragraphs.append(f"At {partner.name} you earn {format_points(partner.earn.points)} for every "
                          f"{format_money(partner.earn.per_amount_minor, money)} you spend there.")
    if program.rewards:
        paragraphs.append("Spend your points on: " + "; ".join(
            f"{reward.name} for {format_points(reward.points)}" for reward in program.rewards)
            + ". We tell you when your points are enough for one of them. A cancelled redemption gives the points "
              "back, and so does returning an order you paid for with points"
            + (": they keep the day they expire on." if program.expiry is not None and program.expiry.by_age else "."))
    for campaign in program.campaigns:
        paragraphs.append(_campaign(campaign, money, ZoneInfo(program.time_zone)))
    for challenge in program.challenges:
        bonus = f" and {format_points(challenge.bonus_points)}" if challenge.bonus_points else ""
        paragraphs.append(f"Challenge {challenge.name}: {challenge.visits} purchases within {challenge.within_days} "
                          f"days earn the {challenge.badge} badge{bonus}.")
    nudges = _nudges(program)
    if nudges:
        paragraphs.append(nudges)
    if program.holdout_bp and (program.campaigns or nudges):
        paragraphs.append(f"To learn what our offers are worth, about {format_percent(program.holdout_bp)} of members, "
                          "picked at random, get no campaign points and no offers; they earn everything else as "
                          "everyone does.")
    if program.causes:
        paragraphs.append("You can give your points to " + ", ".join(c.name for c in program.causes) + ".")
    if program.pending_days:
        paragraphs.append(f"Points from a purchase can be spent {program.pending_days} days after it, once it can "
                          "no longer be returned" + (", and so can the rewards for a friend's first purchase"
                                                     if program.referral is not None else "") + ".")
    if program.expiry is not None:
        paragraphs.append(_expiry(program.expiry))
    after_spend = ("if you have spent them already, your balance can go below zero"
                   if program.return_after_spend == "negative_balance"
                   else "if you have spent them already, we take back only what is left")
    expired = " Points of the order that have expired already are not taken back." if program.expiry else ""
    paragraphs.append(f"A return within {program.return_window_days} days takes back exactly the points "
                      f"the returned items earned; {after_spend}.{expired}")
    paragraphs.append("You can leave at any time and ask us to forget you: your account then closes, the points "
                      "left on it lapse, and we erase what we hold about you.")
    if program.time_zone != "UTC":
        paragraphs.append(f"Days, months and years are counted in {program.time_zone} time.")
    return paragraphs


def _nudges(program: Program) -> str:
    """When the program may get in touch because of what a member buys: members should know it watches."""
    moments = []
    if program.win_back is not None:
        moments.append(f"when you have not shopped for {program.win_back.inactive_days} days")
    favourites = program.repeat_favourites
    if favourites is not None:
        moments.append(f"when you order the same {' or '.join(sorted(favourites.categories))} for the "
                       f"{_ordinal(favourites.orders)} time")
    for rule in program.cross_sell:
        moments.append(f"with {rule.suggest} ideas when you buy {rule.bought}")
    if not moments:
        return ""
    return "We may send you an offer " + _listed(moments) + ", once each."


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _tiers(program: Program) -> str:
    money = program.currency
    base, *higher = program.tiers
    words = [f"Everyone starts in {base.name}."]
    months = program.qualifying_months
    period = (f"in the last {months} months" if program.qualifying_period == "rolling" else
              "in a calendar year" if months == 12 else f"in a calendar block of {months} months (from January)")
    for tier in higher:
        ways = [f"{format_money(tier.qualifying_spend_minor, money)} spent"] if tier.qualifying_spend_minor else []
        if tier.qualifying_visits is not None:
            ways.append(f"{tier.qualifying_visits} visits")
        if tier.qualifying_points is not None:
            ways.append(f"{format_points(tier.qualifying_points)} earned")
        words.append(f"{tier.name} comes with {' or '.join(ways) or 'joining'} {period} "
                     f"and earns {format_multiplier(tier.earn_multiplier_bp)}.")
    if any(tier.qualifying_visits is not None for tier in higher):
        words.append("A visit is an order with something in it that counts towards tiers; returning all of that "
                     "takes the visit back.")
    for tier in program.tiers:
        if tier.perks:
            words.append(f"{tier.name} perks: {', '.join(tier.perks)}.")
    words.append("You move up as soon as you qualify.")
    review = program.tier_review
    if review is not None:
        how = "one tier down" if review.policy == "one_step" else "to the tier your record supports"
        grace = (f" after {review.grace_periods} more review{'s' if review.grace_periods != 1 else ''} of grace"
                 if review.grace_periods else "")
        end = "year" if review.at == "year_end" else "month"
        words.append(f"At the end of each {end}, if your record no longer supports your tier, you move {how}{grace}.")
    for membership in program.memberships:
        words.append(f"{membership.name}: {format_money(membership.fee_minor, money)} gives you {membership.tier} "
                     f"for {membership.months} months, whatever you spend; renew it to keep it. When it ends, you "
                     "hold the tier you earned yourself, as you would without it.")
    return " ".join(words)


def _campaign(campaign: Campaign, money: str, zone: ZoneInfo) -> str:
    gives = [f"points {format_multiplier(campaign.multiplier_bp)}"] if campaign.multiplier_bp > BASIS_POINTS else []
    if campaign.bonus_points:
        gives.append(f"a bonus of {format_points(campaign.bonus_points)}")
    target = campaign.target
    who = [f"for {' and '.join(sorted(target.tiers))} members"] if target.tiers else []
    if target.segments:
        who.append(f"for members in {', '.join(sorted(target.segments))}")
    if target.channels:
        who.append(f"on {', '.join(sorted(target.channels))}")
    if target.stores:
        who.append(f"at stores {', '.join(sorted(target.stores))}")
    if campaign.minimum_spend_minor:
        who.append(f"on purchases of {format_money(campaign.minimum_spend_minor, money)} or more")
    starts, ends = campaign.starts.astimezone(zone), campaign.ends.astimezone(zone)  # as members count time
    words = (f"{campaign.name}: {' and '.join(gives)} from {starts:%Y-%m-%d %H:%M} until "
             f"{ends:%Y-%m-%d %H:%M} {'UTC' if zone.key == 'UTC' else zone.key + ' time'}{' ' if who else ''}"
             f"{', '.join(who)}.")
    if campaign.multiplier_bp > BASIS_POINTS:
        words += " A return takes back the extra points the returned items earned."
    if campaign.bonus_points:
        words += (f" A return takes the bonus back if you keep less than "
                  f"{format_money(campaign.minimum_spend_minor, money)} of the purchase."
                  if campaign.minimum_spend_minor else " A return takes the bonus back if you return it all.")
    if campaign.member_budget_points:
        words += f" Up to {format_points(campaign.member_budget_points)} per member."
    if campaign.budget_points:
        words += f" {format_points(campaign.budget_points)} in all, while they last."
    if campaign.member_budget_points or campaign.budget_points:
        words += " Points a return takes back can be earned again."
    return words


def _expiry(expiry: Expiry) -> str:
    words = []
    if expiry.after_days is not None:
        words.append(f"Points expire {expiry.after_days} days after you earn them, the oldest first.")
    elif expiry.at is not None:
        period = "month" if expiry.at == "month_end" else "year"
        n = expiry.periods_later
        later = {0: "", 1: "after the one "}.get(n, f"{n} {period}s after the one ")
        when = f"at the end of the {period} {later}you earn them in"
        words.append(f"Points expire {when}; you always spend the oldest first.")
    if expiry.inactive_months is not None:
        words.append(f"All your points expire after {expiry.inactive_months} months without any activity.")
    words.append(f"We tell you {expiry.warn_days} days before points expire.")
    return " ".join(words)


def _social(program: Program) -> str:
    social = program.social
    assert social is not None
    offers = [f"a {action} on {platform} earns {format_points(points)}"
              for platform, actions in social.points.items() for action, points in actions.items() if points]
    words = f"Social: {'; '.join(offers)}. Each post earns once."
    if social.daily_cap_points:
        words += f" At most {format_points(social.daily_cap_points)} a day from social."
    return words + (f" A share reported late earns if it is within {DAYS_REMEMBERED} days of your latest paid "
                    "share, and nothing after that.")


def _referral(program: Program) -> str:
    referral = program.referral
    assert referral is not None
    purchase = "first purchase"
    if referral.minimum_purchase_minor:
        purchase += f" of {format_money(referral.minimum_purchase_minor, program.currency)} or more"
    words = (f"Refer a friend: when they join with your referral and make their {purchase}, you get "
             f"{format_points(referral.referrer_points)} and they get {format_points(referral.friend_points)}.")
    if referral.cap_per_referrer:
        words += (f" You are rewarded once per friend, for up to {referral.cap_per_referrer} friends "
                  f"every {referral.cap_period_days} days.")
    words += (" If that purchase is returned" + (" below the minimum" if referral.minimum_purchase_minor else "")
              + ", both rewards are taken back, and their next such purchase counts instead.")
    return words
