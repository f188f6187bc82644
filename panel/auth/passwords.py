"""Password hashing (Argon2id) and the password rules: 12 characters or more, not a common one."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
MAX_LENGTH = 256
_hasher = PasswordHasher()
# Verified against when the email is unknown, so a miss costs as long as a hit.
_DUMMY_HASH = _hasher.hash("not a real password, used only to spend time")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _common() -> frozenset[str]:
    text = resources.files("panel.auth").joinpath("common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problem(password: str, *, email: str = "") -> str | None:
    """The GOV.UK-style message for a password that breaks the rules, or None when it is fine."""
    if len(password) < MIN_LENGTH:
        return f"Password must be {MIN_LENGTH} characters or more"
    if len(password) > MAX_LENGTH:
        return f"Password must be {MAX_LENGTH} characters or fewer"
    lowered = password.lower()
    squashed = re.sub(r"[\s\-_.]+", "", lowered)  # "correct horse battery staple" is still the famous one
    candidates = {lowered, squashed, lowered.rstrip("0123456789!?.*#@$ "), squashed.rstrip("0123456789!?*#@$")}
    if candidates & _common() or len(set(lowered)) < 4:
        return "Password is too common. Choose one that is harder to guess, such as three random words"
    local = email.split("@")[0].lower()
    if local and len(local) >= 4 and local in lowered:
        return "Password must not contain your email address"
    if any(word in lowered for word in ("panel", "caspa")) and len(lowered) < 16:
        return "Password must not be based on the name of this service"
    return None
