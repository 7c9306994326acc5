"""Partner CPOs and the fake CPO Sender of the pull tests (tests/cpo_partners.py)."""

from tests.cpo_partners import fake_cpo, other_cpo, pulled_cpo  # noqa: F401 - fixtures
