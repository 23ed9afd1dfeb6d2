"""Accounts: passwords, login throttling, API tokens; and the schema matches its migrations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import update

from engine.clock import utcnow
from engine.errors import InvalidData, Throttled
from engine.models import ApiToken, Base, LoginThrottle
from engine.services import Alur
from engine.users import (
    DEMO_PASSWORD,
    MAX_FAILURES,
    authenticate,
    create_user,
    get_user,
    issue_token,
    revoke_token,
    user_for_token,
)


def test_password_is_hashed_and_checked(alur: Alur) -> None:
    user = get_user(alur, "sekda")
    assert DEMO_PASSWORD not in user.password_hash
    assert authenticate(alur, "sekda", DEMO_PASSWORD).username == "sekda"
    assert authenticate(alur, "sekda", "salah-sekali") is None
    assert authenticate(alur, "tidak-ada", "apa saja") is None


def test_repeated_failures_lock_the_name_even_with_the_right_password(alur: Alur) -> None:
    for _ in range(MAX_FAILURES):
        assert authenticate(alur, "kepala-biro", "tebakan-salah") is None
    with pytest.raises(Throttled) as err:
        authenticate(alur, "kepala-biro", DEMO_PASSWORD)
    assert err.value.retry_after > 0
    assert authenticate(alur, "sekda", DEMO_PASSWORD) is not None, "other users are not affected"
    with alur.unit_of_work() as uow:  # the lock ends by itself
        uow.session.execute(update(LoginThrottle).values(locked_until=utcnow() - timedelta(seconds=1)))
    assert authenticate(alur, "kepala-biro", DEMO_PASSWORD) is not None


def test_tokens_expire_and_can_be_revoked(alur: Alur) -> None:
    user = get_user(alur, "sekda")
    token = issue_token(alur, user)
    assert user_for_token(alur, token).username == "sekda"
    assert user_for_token(alur, token + "x") is None
    assert revoke_token(alur, token) is True
    assert user_for_token(alur, token) is None
    other = issue_token(alur, user)
    with alur.unit_of_work() as uow:
        uow.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert user_for_token(alur, other) is None


def test_user_names_and_passwords_are_checked(alur: Alur) -> None:
    with pytest.raises(InvalidData, match="sudah ada"):
        create_user(alur, "sekda", "kata-sandi-baru")
    with pytest.raises(InvalidData, match="8 sampai 200"):
        create_user(alur, "baru", "pendek")
    with pytest.raises(InvalidData) as err:
        create_user(alur, "baru", "x" * 201)
    assert err.value.field == "password"
    for kwargs, field in [({"full_name": "n" * 201}, "full_name"), ({"agency": " "}, "agency"),
                          ({"lanes": ["Sekda", " "]}, "lanes"), ({"lanes": [f"l{i}" for i in range(51)]}, "lanes")]:
        with pytest.raises(InvalidData) as err:
            create_user(alur, "baru", "kata-sandi-baru", **kwargs)
        assert err.value.field == field
    with pytest.raises(InvalidData):
        create_user(alur, "../admin", "kata-sandi-baru")


def test_models_and_migrations_agree(alur: Alur) -> None:
    with alur.db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], f"models changed without a migration: {diff}"
