"""Deploy the rule: upload the Lambda zip, then create or update the stack through a change set.

    python -m tools.deploy --bucket my-artifacts --region us-east-1 [--stack iam-user-console-mfa]
        [--parameter GracePeriodDays=14 --parameter AlarmEmail=secops@example.com ...] [--yes]
    python -m tools.deploy --organization --bucket my-artifacts --region us-east-1 [--parameter ...] [--yes]
    python -m tools.deploy --member-role --region us-east-1 --parameter FunctionRoleArn=arn:... [--yes]

Like ``aws cloudformation deploy``, every stack parameter not given keeps its current value
(new parameters take their default), so a plain code update never resets an exemption. Before
anything changes it prints the change set: parameters and resources. It applies without asking
with ``--yes`` or when ``CI=true``; otherwise it asks on a terminal, and refuses without one.

``--organization`` reads AWS Organizations to fill ``OrganizationId``, ``CallAs`` (SELF from the
management account, DELEGATED_ADMIN from a delegated administrator), ``DeploymentOrganizationalUnitIds``
(the root, unless given or deployed before) and ``AccountsWithoutMemberRole`` (the accounts the member
role will not reach, which the organization rule must leave out). ``--member-role`` deploys
``member-role.yaml`` into the current account: the management account, when the organization stack
was deployed from a delegated administrator.

Re-evaluation on IAM change (docs/freshness-and-cost.md), on unless ``--no-events``: after the rule's
stack, ``iam-events.yaml`` as ``<stack>-events`` in ``--region`` (the same zip, key and pinned version; the
rule's name and alarm topic from the rule stack's outputs) and, when ``--region`` is not us-east-1 (the only
Region IAM's events reach), ``iam-events-forwarder.yaml`` as ``<stack>-events-forwarder`` in us-east-1. With
``--organization`` the event stack comes first (with the organization's bus policy), and the organization
stack gets its role for the member role's re-evaluation role and a StackSet of forwarders for every account.
``--no-events`` passes ``ReevaluateOnIamChange=false`` (to every template that declares it), creates no event
stack and switches off those deployed before; neither flag: as deployed before. ``--wait-minutes`` is one
budget for all the stacks of a run.

Enforcement (docs/enforcement-organization.md): ``--enforcement off|manual|automatic`` (with
``--max-enforcements-per-day`` and, for the account stack, ``--notice-sender``) sets the stack's
Enforcement parameters. Enforcement other than off without AlarmEmail or AlarmTopicArn (given, or
kept from the deployed stack) is refused before anything is uploaded or changed. Which route gives
which: the account stack enforces in its account; ``--organization`` with Enforcement off deploys
the organization Config rule, which cannot have a remediation; ``--organization`` with manual or
automatic deploys, in this order, the organization stack (its enforcement function, and the
member-role StackSet, which puts the ForceMfa group, the automation document and its roles into
every account under fixed names) and then the organization conformance pack
(``conformance-pack.yaml``, the rule with its remediation) to every account the member role
reached. Turning the organization route's enforcement off again is refused while the pack exists:
delete the pack first (the tool prints the command), then run again.

Parameters also come from the environment variable ``MFA_DEPLOY_PARAMS`` (what ``make deploy
PARAMS="..."`` passes, so that nothing in a value reaches a shell): ``Key=value`` words separated by
spaces, where a word that does not start with ``Name=`` continues the previous value, so
``ExemptUsers=alice, bob GracePeriodDays=7`` is two parameters. Quote as in a shell a value that
itself contains `` Name=``: ``ExemptUsers='alice, x=y'``.

Integrity: every S3 call names the bucket's expected owner (the caller's account unless
``--bucket-owner``); the zip and the member-role template go under keys holding their SHA-256, and
the zip's object version is pinned in the stack when the bucket is versioned. After deploying, the
function's CodeSha256 and the StackSet's template are compared with the local files; a mismatch
fails (exit 2).

Waiting: the tool follows the stack until CloudFormation finishes, printing its events and the
member-role StackSet's accounts (succeeded, failed, pending); after ``--wait-minutes`` it stops
following, says what is still running and how to follow it, and exits 3. A run that is refused or
fails before executing deletes the change set, and the stack too when it created it (a stack
in REVIEW_IN_PROGRESS holds no resources).

Deploy in the Region where AWS Config records global resources (IAM). Uses the standard boto3
credential chain (AWS_PROFILE, AWS_ENDPOINT_URL, ...).

Rooms, one job each (like the AWS CLI's ``cloudformation deploy`` and its deployer and S3 uploader):
``cli`` (the command line), ``routes`` (the account and the organization route), ``changesets`` (create,
show, execute and follow a change set), ``artifacts`` (S3 uploads and the deployed code checked),
``parameters`` (what the run is given), ``organization`` (AWS Organizations), ``stacksets`` (StackSet
progress and checks), ``conformance_pack`` and ``events`` (the event path's stacks); ``aws`` holds what
they share. Templates are read with :mod:`mfa_audit.templates`.
"""
