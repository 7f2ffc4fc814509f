"""Whom a card transaction earns for, over any history of links: the member whose link was in force when it was
made, or nobody, checked against a plain reading of the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from streams.card_directory import FIRST_LINK_GRACE, CardLink, Unlinked

T0 = datetime(2026, 11, 1, tzinfo=UTC)

# A card's holders in turn: (member, hours from the previous link's end to this link, hours the link lasts); the
# last link may still stand (no end).
holders = st.lists(st.tuples(st.sampled_from(["anna", "bo", "cleo"]), st.integers(0, 60), st.integers(1, 60)),
                   min_size=1, max_size=6)


def history(turns: list[tuple[str, int, int]], still_linked: bool) -> list[tuple[str, datetime, datetime | None]]:
    links, at = [], T0
    for member, gap, lasts in turns:
        linked_at = at + timedelta(hours=gap)
        at = linked_at + timedelta(hours=lasts)
        links.append((member, linked_at, at))
    if still_linked:
        links[-1] = (links[-1][0], links[-1][1], None)
    return links


def as_card(links: list[tuple[str, datetime, datetime | None]]) -> CardLink:
    """The card as ingest builds it, link by link."""
    card: CardLink | None = None
    for member, linked_at, unlinked_at in links:
        card = CardLink(member, linked_at) if card is None else card.linked_by(member, linked_at)
        if unlinked_at is not None:
            card = card._replace(unlinked_at=unlinked_at)
    assert card is not None
    return card


@given(holders, st.booleans(), st.data())
def test_a_transaction_earns_for_the_member_whose_link_was_in_force_when_it_was_made(
        turns: list[tuple[str, int, int]], still_linked: bool, data: st.DataObject) -> None:
    links = history(turns, still_linked)
    edges = [at for _, linked_at, unlinked_at in links for at in (linked_at, unlinked_at) if at is not None]
    edges.append(links[0][1] - FIRST_LINK_GRACE)
    made = data.draw(st.one_of(  # anywhere, or on an edge of a link, or a minute either side of one
        st.builds(lambda minutes: T0 + timedelta(minutes=minutes), st.integers(-48 * 60, 400 * 60)),
        st.builds(lambda edge, minutes: edge + timedelta(minutes=minutes), st.sampled_from(edges),
                  st.integers(-1, 1))))
    in_force = [member for member, linked_at, unlinked_at in links
                if linked_at <= made and (unlinked_at is None or made < unlinked_at)]
    first_member, first_linked_at, _ = links[0]
    if made < first_linked_at and made >= first_linked_at - FIRST_LINK_GRACE:
        in_force = [first_member]  # paid just before the card's first link

    found = as_card(links).member_at(made)

    assert found == in_force[0] if in_force else isinstance(found, Unlinked)
    card = as_card(links)
    assert CardLink.from_record(card.record("tok")) == card  # the cards topic keeps all of it
