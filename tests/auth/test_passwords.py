"""The password rules (12 characters, not common, not the email address) and Argon2id hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from panel.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from panel.models import Role

from tests import factories
from tests.conftest import error_summary, post_form

TOO_SHORT = "Password must be 12 characters or more"
TOO_COMMON = "Password is too common. Choose one that is harder to guess, such as three random words"
HAS_EMAIL = "Password must not contain your email address"


@pytest.mark.parametrize(("password", "problem"), [
    ("", TOO_SHORT),
    ("elevenchars", TOO_SHORT),
    ("twelve chars", None),
    ("purple elephant sandwich rain", None),
])
def test_twelve_characters_or_more(password, problem):
    assert len("elevenchars") == 11 and len("twelve chars") == 12
    assert password_problem(password) == problem


@pytest.mark.parametrize("password", [
    "passwordpassword",
    "PasswordPassword",
    "safeguarding",
    "Safeguarding2027",
    "safeguarding123!",
    "password12345",
    "password1234567890",
    "qwertyqwerty",
    "QWERTYQWERTY99",
    "aaaaaaaaaaaaaaaa",
    "abababababababab",
])
def test_common_passwords_are_refused_even_with_digits_on_the_end(password):
    assert password_problem(password) == TOO_COMMON


def test_the_email_address_cannot_be_in_the_password():
    assert password_problem("my name is jane.doe really", email="jane.doe@council.invalid") == HAS_EMAIL
    assert password_problem("JANE.DOE rules the world", email="jane.doe@council.invalid") == HAS_EMAIL
    assert password_problem("a completely different one", email="jane.doe@council.invalid") is None


def test_passwords_are_hashed_with_argon2id():
    hashed = hash_password("purple elephant sandwich rain")

    assert hashed.startswith("$argon2id$")
    assert "purple" not in hashed
    assert hash_password("purple elephant sandwich rain") != hashed  # salted
    assert verify_password(hashed, "purple elephant sandwich rain")
    assert not verify_password(hashed, "purple elephant sandwich rai")
    assert not verify_password(None, "purple elephant sandwich rain")
    assert not verify_password("not a hash", "purple elephant sandwich rain")


def test_a_weaker_stored_hash_is_upgraded_at_sign_in(client, db):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(factories.PASSWORD)
    assert needs_rehash(weak)
    user = factories.create_user(role=Role.PRACTITIONER)
    user.password_hash = weak
    db.session.commit()

    assert post_form(client, "/login", {"email": user.email, "password": factories.PASSWORD}).status_code == 302

    db.session.refresh(user)
    assert user.password_hash.startswith("$argon2id$")
    assert not needs_rehash(user.password_hash)
    assert verify_password(user.password_hash, factories.PASSWORD)


@pytest.mark.parametrize(("new", "confirm", "message"), [
    ("shortpass", "shortpass", TOO_SHORT),
    ("Safeguarding2027", "Safeguarding2027", TOO_COMMON),
    ("sam.jones is my name", "sam.jones is my name", HAS_EMAIL),
    ("purple elephant sandwich rain", "purple elephant sandwich", "Passwords must match"),
])
def test_the_change_password_page_applies_the_rules(client, db, login_as, new, confirm, message):
    user = login_as("practitioner", email="sam.jones@housing.invalid")
    old_hash = user.password_hash

    response = post_form(client, "/account/password", {
        "current_password": factories.PASSWORD, "new_password": new, "confirm_password": confirm,
    })

    assert response.status_code == 200
    assert message in error_summary(response)
    db.session.refresh(user)
    assert user.password_hash == old_hash


def test_a_changed_password_is_stored_as_argon2id(client, db, login_as):
    user = login_as("practitioner")

    post_form(client, "/account/password", {
        "current_password": factories.PASSWORD, "new_password": "purple elephant sandwich rain",
        "confirm_password": "purple elephant sandwich rain",
    })

    db.session.refresh(user)
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, "purple elephant sandwich rain")
    assert user.password_changed_at is not None


def test_a_famous_passphrase_is_refused_even_with_spaces():
    from panel.auth.passwords import password_problem

    assert "too common" in password_problem("correct horse battery staple")
    assert password_problem("violet kettle harbour sprint") is None
