"""What to send to AWS Config over what it holds: what changes it, or is due. Pure: no AWS here.

Config bills each evaluation it records. A periodic sweep therefore sends an evaluation only where
Config holds none, holds a different result or annotation, or holds one due for re-confirmation
(``ReconfirmDays``, spread evenly over the days by a per-user phase). Results held for users that
are gone are set to NOT_APPLICABLE. A sweep the deadline stopped sends :func:`sent_out_of_time`: its
:func:`corrections`, and the results it checked that stand.
Reading what Config holds and sending are :mod:`console_mfa.config_report`'s.

Example::

    held = {"AIDAEXAMPLE000000001": HeldResult.from_evaluation_result(result)}
    to_send = worth_sending(evaluations, held, now, reconfirm_days=30)
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any


@dataclass(frozen=True)
class HeldResult:
    """What Config holds for one user: the last result recorded, and when."""

    compliance_type: str
    annotation: str
    recorded: datetime
    # The OrderingTimestamp the result was sent with: for this rule, a moment before its facts were read.
    ordered: datetime | None = None

    @classmethod
    def from_evaluation_result(cls, result: Mapping[str, Any]) -> HeldResult:
        """From one of Config's ``EvaluationResults`` (GetComplianceDetailsByConfigRule or ...ByResource alike).

        Example: ``HeldResult.from_evaluation_result(page["EvaluationResults"][0]).ordered``
        """
        return cls(
            result["ComplianceType"],
            result.get("Annotation", ""),
            result["ResultRecordedTime"],
            result["EvaluationResultIdentifier"].get("OrderingTimestamp"),
        )


def latest_reconfirmation_moment(resource_id: str, now: datetime, reconfirm_days: int) -> datetime:
    """The user's latest fixed re-confirmation moment at or before ``now``.

    Each user's moments lie ``reconfirm_days`` apart, at a phase taken from a hash of its UserId,
    so the users' moments are spread evenly over the days.
    """
    period = reconfirm_days * 86400
    phase = int.from_bytes(hashlib.sha256(resource_id.encode()).digest()[:8], "big") % period
    now_seconds = now.timestamp()
    return datetime.fromtimestamp(now_seconds - ((now_seconds - phase) % period), tz=timezone.utc)


def reconfirmation_due(resource_id: str, recorded: datetime, now: datetime, reconfirm_days: int) -> bool:
    """Whether a result recorded at ``recorded`` should be sent again, unchanged, by ``now``.

    A result recorded before the user's latest re-confirmation moment is due. So every result is
    at most ``reconfirm_days`` (plus one sweep) old, and re-confirmations are spread evenly over the
    days rather than all falling on the anniversary of the first sweep.
    """
    return recorded < latest_reconfirmation_moment(resource_id, now, reconfirm_days)


def worth_sending(
    evaluations: Sequence[dict[str, Any]],
    held: Mapping[str, HeldResult],
    now: datetime,
    reconfirm_days: int,
    rerecord: Collection[str] = (),
) -> list[dict[str, Any]]:
    """The evaluations that change what Config holds, re-confirm a result that is due, or are for ``rerecord``.

    ``rerecord``: resource ids whose result is sent even when unchanged, to move its recorded time forward.
    """
    to_send = []
    for evaluation in evaluations:
        current = held.get(evaluation["ComplianceResourceId"])
        if (
            current is None
            or evaluation["ComplianceResourceId"] in rerecord
            or current.compliance_type != evaluation["ComplianceType"]
            or current.annotation != evaluation.get("Annotation", "")
            or reconfirmation_due(evaluation["ComplianceResourceId"], current.recorded, now, reconfirm_days)
        ):
            to_send.append(evaluation)
    return to_send


def corrections(evaluations: Sequence[dict[str, Any]], held: Mapping[str, HeldResult]) -> list[dict[str, Any]]:
    """Of a sweep the deadline stopped, what must not wait: a COMPLIANT or NON_COMPLIANT Config does not hold.

    Annotation-only changes and re-confirmations wait for a complete sweep, and so does every
    NOT_APPLICABLE: withholding it keeps the stricter result held, and a partial sweep never
    looks like the clean-up of users it did not reach.
    """
    return [
        evaluation
        for evaluation in evaluations
        if evaluation["ComplianceType"] != "NOT_APPLICABLE"
        and (
            evaluation["ComplianceResourceId"] not in held
            or held[evaluation["ComplianceResourceId"]].compliance_type != evaluation["ComplianceType"]
        )
    ]


def sent_out_of_time(
    evaluations: Sequence[dict[str, Any]], held: Mapping[str, HeldResult], checked_live: Collection[str]
) -> list[dict[str, Any]]:
    """Of a sweep the deadline stopped, what is sent: its :func:`corrections`, and the results of the users it
    checked live for whom Config holds nothing stricter (nothing, or the same compliance type), so that the
    next sweep, which starts with the least recently recorded, starts after them.
    """
    fixes = corrections(evaluations, held)
    fixed = {e["ComplianceResourceId"] for e in fixes}
    rechecked = [
        e
        for e in evaluations
        if e["ComplianceResourceId"] in checked_live
        and e["ComplianceResourceId"] not in fixed
        and (
            e["ComplianceResourceId"] not in held
            or held[e["ComplianceResourceId"]].compliance_type == e["ComplianceType"]
        )
    ]
    return fixes + rechecked


def gone_user_ids(held: Mapping[str, HeldResult], current_ids: set[str]) -> list[str]:
    """UserIds Config holds a COMPLIANT or NON_COMPLIANT result for but IAM no longer has."""
    return sorted(
        user_id
        for user_id, result in held.items()
        if user_id not in current_ids and result.compliance_type != "NOT_APPLICABLE"
    )
