"""Shared fixtures: the program most examples are told in (see ``builders.club``)."""

from __future__ import annotations

import pytest
from builders import Member, club

from processors.program import Program


@pytest.fixture
def program() -> Program:
    return club()


@pytest.fixture
def anna(program: Program) -> Member:
    """Anna, enrolled in the club with her 100 welcome points."""
    member = Member(program, "anna")
    member.enrol()
    return member
