"""One run of the deploy tool: what its stacks share (credentials, the confirmation, one ``--wait-minutes``), and
what a stop on that budget says is still to come.

Example::

    run = Run(boto3.Session(region_name="us-east-1"), confirm, Waiting(timeout_seconds=3600))
    run.deploy("us-east-1", "iam-user-console-mfa", template_text, {"CodeBucket": "b"})   # Deployment(...)
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from tools.deploy.aws import StillRunning
from tools.deploy.changesets import Deployment, Plan, Waiting, deploy_stack
from tools.deploy.stacksets import StackSetWatch


@dataclass
class Run:
    """What every stack of one run shares: the credentials, the confirmation, one --wait-minutes."""

    session: Any
    confirm: Callable[[Plan], bool]
    waiting: Waiting
    say: Callable[[str], None] = print
    started: float = field(init=False)
    _clients: dict[tuple[str, str], Any] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.started = self.waiting.clock()

    def client(self, service: str, region: str) -> Any:
        if (service, region) not in self._clients:
            self._clients[service, region] = self.session.client(service, region_name=region)
        return self._clients[service, region]

    def deploy(
        self,
        region: str,
        stack: str,
        template: str,
        parameters: dict[str, str],
        stack_set: StackSetWatch | Sequence[StackSetWatch] | None = None,
    ) -> Deployment:
        return deploy_stack(
            self.client("cloudformation", region),
            stack,
            template,
            parameters,
            self.confirm,
            self.say,
            region,
            self.waiting.left_since(self.started),
            stack_set,
        )


@contextlib.contextmanager
def still_to_come(what: str) -> Iterator[None]:
    """A stop on the timeout names what this run had not deployed yet (if anything), so that it is not forgotten."""
    try:
        yield
    except StillRunning as error:
        if not what:
            raise
        raise StillRunning(f"{error}; not deployed yet: {what} (run the tool again once it has finished)") from error
