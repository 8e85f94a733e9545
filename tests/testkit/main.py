"""Runs the testkit service as its own OS process (a separate module, so that its contracts
are imported once, as tests.testkit)."""

import os

import uvicorn

from shared.app import build_app
from shared.settings import Settings
from tests.testkit import definition

if __name__ == "__main__":
    name = os.environ["TESTKIT_NAME"]
    uvicorn.run(
        build_app([definition(name)], Settings(), name=name),
        host="127.0.0.1",
        port=int(os.environ["TESTKIT_PORT"]),
        log_level="warning",
    )
