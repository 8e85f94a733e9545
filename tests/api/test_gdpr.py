"""A data subject's rights: `binome gdpr export` gathers what the five services hold on one
employee; `POST /v1/employees/{id}/erasure` erases it everywhere (employee.erased: each
service pseudonymises, blanks and deletes, then confirms), after which no service database
holds the person's id, name, email or words, while the figures they were part of still add
up and another organisation's employee of the same id is untouched; the event log forgets
her events once every group has read them and its retention has passed."""

from __future__ import annotations

import shutil
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from shared.clock import ManualClock
from shared.settings import Settings
from tests.api.conftest import _settings
from tests.helpers import Api
from tests.helpers.gdpr import exported_then_erased, sqlite_log, sqlite_rows


@pytest.fixture
def settings(tmp_path: Path, migrated: Path) -> Settings:
    """Each service's second erasure pass due at once (the test's clock does not move)."""
    shutil.copytree(migrated, tmp_path / "data")
    return _settings(tmp_path / "data").model_copy(update={"erasure_repeat_after": timedelta(0)})


async def test_an_employee_is_exported_then_erased_from_every_database(
    api: Api, settings: Settings, clock: ManualClock
) -> None:
    env = {"BINOME_DATA_DIR": str(settings.data_dir)}
    later = partial(clock.advance, timedelta(seconds=1))
    data = settings.data_dir
    await exported_then_erased(api, env, sqlite_rows(data), sqlite_log(data), later)
