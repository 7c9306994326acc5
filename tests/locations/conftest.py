"""Partner CPOs of the Locations Receiver tests (tests/cpo_partners.py)."""

from tests.cpo_partners import example_cpo, other_cpo  # noqa: F401 - fixtures
