"""The hash of a charge point's HTTP Basic password (OCPP security profiles 1 and 2).

Staff passwords keep Django's default (PBKDF2-SHA256, 1,000,000 iterations: about 0.5 s of CPU per check). A charge
point's password is a machine secret of 16 to 40 characters (OCPP's AuthorizationKey / BasicAuthPassword) checked
at every WebSocket connection: at the default cost, 500 chargers reconnecting after a server restart cost 250 s of
CPU before the first of them is served (bench/ocpp_chargers.py refused most of them with 503). This hasher is the
same PBKDF2-SHA256 with 20,000 iterations (about 10 ms), salted as usual; existing hashes of the default hasher
still verify. Listed last in PASSWORD_HASHERS, so it is used only where asked for (ChargePoint.set_password).
"""

from __future__ import annotations

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class ChargePointPasswordHasher(PBKDF2PasswordHasher):
    algorithm = "pbkdf2_sha256_chargepoint"
    iterations = 20_000
