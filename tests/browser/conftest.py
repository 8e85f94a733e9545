"""The browser tier runs on the embedded app of the API tier (its fixtures)."""

from tests.api.conftest import api, app, client, migrated, settings  # noqa: F401 (fixtures)
from tests.helpers import compiled_matching_kernels  # noqa: F401 (a fixture)
