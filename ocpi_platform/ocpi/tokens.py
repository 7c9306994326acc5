"""Credentials tokens: generation (CSPRNG, 256 bits), hashing for storage, header encoding."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets


def token_generate() -> str:
    """43 URL-safe characters (~256 bits of entropy), all within U+0021..U+007E as the spec requires.

    Never starting with "-": one token in 64 did, and a command line (ours, `ocpi_register URL TOKEN`, or the
    partner's) then reads it as an option.
    """
    while True:
        token = secrets.token_urlsafe(32)
        if not token.startswith("-"):
            return token


def token_hash(token: str) -> str:
    """Tokens carry 256 bits of entropy, so a plain SHA-256 is a safe at-rest form (no salt needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_encode_header(token: str, *, base64_encode: bool = True) -> str:
    """`Authorization` value: `Token <base64(utf-8 token)>`, or the raw token for legacy partners."""
    if base64_encode:
        return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")
    return "Token " + token


def token_candidates(header_value: str) -> list[str]:
    """Possible tokens in an Authorization header: the Base64-decoded form first, then the raw one."""
    scheme, _, value = header_value.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "token" or not value:
        return []
    candidates = []
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded and decoded.isprintable() and " " not in decoded:
        candidates.append(decoded)
    if value not in candidates:
        candidates.append(value)
    return candidates


def is_valid_token(token: str) -> bool:
    """string(64), printable non-whitespace ASCII only (credentials.md 2)."""
    return 0 < len(token) <= 64 and all(0x21 <= ord(ch) <= 0x7E for ch in token)
