"""One moto server per test module, emptied before each test: for the modules that run the deploy tool.

Starting a server costs more than emptying one (moto's reset API, ``POST /moto-api/reset``), and each
test still starts from an empty account. A module imports both fixtures; its ``moto_server`` then stands
in for conftest's (a fresh server per test) with the same shape: (IAM client on it, environment that
points real tools at it).
"""

import os
import urllib.request

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import FAKE_CREDENTIALS


@pytest.fixture(scope="module")
def module_moto_endpoint():
    """The module's moto server: its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_server(module_moto_endpoint):
    """The module's server, emptied: (IAM client on it, environment that points real tools at it)."""
    endpoint = module_moto_endpoint
    # The server keeps its state in this process's moto backends; start each test empty.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))  # noqa: S310
    env = dict(
        FAKE_CREDENTIALS, AWS_ENDPOINT_URL=endpoint, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull
    )
    iam = boto3.client(
        "iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )  # noqa: S106
    return iam, env
