from shared.db import run_migrations_env
from tests.testkit import Base

run_migrations_env(Base.metadata)
