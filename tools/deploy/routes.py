"""The two routes: the account stack, and the organization stack (with the conformance pack when it enforces).

Each deploys the rule's stack and the event path's stacks in the order their outputs and StackSets need.
"""

from __future__ import annotations

from mfa_audit.templates import (
    ALARM_TOPIC_ARN,
    CONFIG_RULE_NAME,
    ENFORCEMENT,
    EVENT_BUS_ARN,
    EVENTS_SWITCH,
    FUNCTION_ROLE_ARN,
    IAM_EVENTS_FORWARDER_TEMPLATE,
    MEMBER_ROLE_TEMPLATE,
    ORGANIZATION_TEMPLATE,
    RULE_TEMPLATE,
    TEMPLATE_DIRECTORY,
    Template,
)
from tools.deploy.artifacts import Artifacts, UploadedObject, code_parameters, verify_function_code
from tools.deploy.changesets import Deployment, current_stack, stack_outputs
from tools.deploy.conformance_pack import deploy_conformance_pack
from tools.deploy.events import (
    IAM_EVENTS_REGION,
    EventStacks,
    deploy_event_stack,
    deploy_forwarder,
    switch,
    with_events_switch,
)
from tools.deploy.organization import account_ids, organization_parameters, read_organization
from tools.deploy.run import Run, still_to_come
from tools.deploy.stacksets import StackSetWatch, report_stack_set, verify_stack_set_template


def say_function(run: Run, function: str, code: UploadedObject) -> None:
    run.say(f"function {function} runs the local zip (CodeSha256 {code.lambda_code_sha256})")


def deploy_account_route(
    run: Run, stacks: EventStacks, code: UploadedObject, given: dict[str, str], events_on: bool
) -> Deployment:
    """The rule's stack, then (on) the event path's stacks wired from its outputs, or (off) those switched off."""
    region = stacks.region
    cloudformation = run.client("cloudformation", region)
    template = (TEMPLATE_DIRECTORY / RULE_TEMPLATE).read_text()
    parameters = with_events_switch(template, {**code_parameters(code), **given}, events_on)
    with still_to_come(f"the event path's stacks {stacks.described()}"):
        done = run.deploy(region, stacks.rule_stack, template, parameters)
    say_function(run, verify_function_code(cloudformation, run.client("lambda", region), done.stack, code), code)
    rule = stack_outputs(cloudformation, done.stack)
    later = f"stack {stacks.forwarder} in {IAM_EVENTS_REGION}" if events_on and stacks.needs_forwarder else ""
    with still_to_come(later):
        events = deploy_event_stack(
            run,
            stacks,
            code,
            events_on,
            alarm_topic=rule.get(ALARM_TOPIC_ARN, ""),
            # Without the output, iam-events.yaml's default: the rule's fixed name.
            rule_name=rule.get(CONFIG_RULE_NAME) or None,
        )
    deploy_forwarder(run, stacks, events_on, events.get(EVENT_BUS_ARN, ""))
    return done


def deploy_organization_route(
    run: Run,
    stacks: EventStacks,
    code: UploadedObject,
    given: dict[str, str],
    deployed: dict[str, str],
    artifacts: Artifacts,
    *,
    enforcement: str,
    events_on: bool,
    management_account_has_role: bool,
) -> Deployment:
    """The organization stack (member-role StackSet and, with events on, the forwarders' StackSet) with the event
    stack in this account before it (its bus and role are what the StackSets name), then the conformance pack.

    Off: the organization stack first (its rule gets its change trigger back, the StackSets drop the
    re-evaluation role and the forwarders), then the event path's stacks here are switched off.
    """
    region, stack = stacks.region, stacks.rule_stack
    cloudformation = run.client("cloudformation", region)
    template = (TEMPLATE_DIRECTORY / ORGANIZATION_TEMPLATE).read_text()
    parameters = {
        **code_parameters(code),
        "MemberRoleTemplateUrl": artifacts.template_url(TEMPLATE_DIRECTORY / MEMBER_ROLE_TEMPLATE),
    }
    organizations = run.client("organizations", region)
    organization = read_organization(organizations, run.client("sts", region))
    parameters.update(given)
    parameters.update(
        organization_parameters(organizations, organization, given, deployed, management_account_has_role, run.say)
    )
    watches = [StackSetWatch(f"{stack}-member-role", organization.call_as)]
    run.say(
        "route: "
        + (
            "the organization Config rule, without enforcement (AWS has no organization remediation)"
            if enforcement == "off"
            else f"the organization conformance pack with the rule and its remediation (Enforcement="
            f"{enforcement}): first this stack and its StackSet (the member resources), then the pack"
        )
    )
    existing = current_stack(cloudformation, stack)
    alarm_topic = stack_outputs(cloudformation, stack).get(ALARM_TOPIC_ARN, "") if existing else ""
    alarm_topic = alarm_topic or given.get(ALARM_TOPIC_ARN, deployed.get(ALARM_TOPIC_ARN, ""))
    event_stack = {"alarm_topic": alarm_topic, "organization_id": organization.organization_id}
    declared = Template.from_text(template).declared_parameters()
    if events_on:
        with still_to_come(f"stack {stack} in {region}"):
            events = deploy_event_stack(run, stacks, code, True, **event_stack)
            deploy_forwarder(run, stacks, True, events[EVENT_BUS_ARN])
        parameters["ReevaluationFunctionRoleArn"] = events[FUNCTION_ROLE_ARN]
        parameters["IamEventsForwarderTemplateUrl"] = artifacts.template_url(
            TEMPLATE_DIRECTORY / IAM_EVENTS_FORWARDER_TEMPLATE
        )
        watches.append(
            StackSetWatch(
                f"{stack}-iam-events-forwarder",
                organization.call_as,
                "IAM-events forwarder",
                TEMPLATE_DIRECTORY / IAM_EVENTS_FORWARDER_TEMPLATE,
                "IAM changes in those accounts wait for the periodic sweep",
            )
        )
    else:
        parameters |= {key: "" for key in ("ReevaluationFunctionRoleArn", "IamEventsForwarderTemplateUrl")}
    parameters = {key: value for key, value in parameters.items() if key in declared or key in given}
    parameters = with_events_switch(template, parameters, events_on)
    with still_to_come("" if events_on else f"switching off the event path's stacks {stacks.described()}, if any"):
        done = run.deploy(region, stack, template, parameters, stack_set=watches)
    function = verify_function_code(cloudformation, run.client("lambda", region), done.stack, code)
    say_function(run, function, code)
    for watch in watches:
        verify_stack_set_template(cloudformation, watch)
    failed = report_stack_set(cloudformation, watches[0], region, run.say)
    for watch in watches[1:]:
        report_stack_set(cloudformation, watch, region, run.say)
    topic = stack_outputs(cloudformation, done.stack).get(ALARM_TOPIC_ARN, "")
    if events_on and topic != alarm_topic:
        # A topic this run created (AlarmEmail): the event stack's alarms publish to it too.
        deploy_event_stack(run, stacks, code, True, **{**event_stack, "alarm_topic": topic})
    elif not events_on:
        deploy_event_stack(run, stacks, code, False, **{**event_stack, "alarm_topic": topic})
        deploy_forwarder(run, stacks, False, "")
    if events_on and organization.call_as == "DELEGATED_ADMIN":
        management = organization.management_account
        run.say(
            f"  the management account {management} (no StackSet reaches it): for its IAM changes, deploy there "
            f"member-role.yaml with ReevaluationFunctionRoleArn={parameters['ReevaluationFunctionRoleArn']} and "
            f"iam-events-forwarder.yaml in {IAM_EVENTS_REGION} with TargetEventBusArn="
            f"arn:{function.split(':')[1]}:events:{region}:{organization.caller_account}:event-bus/default"
        )
    if enforcement != "off":
        # Only after the StackSet finished: the pack's remediation needs the member resources there.
        merged = {**deployed, **parameters}
        excluded = account_ids(merged.get("ExcludedAccounts", ""))
        excluded |= account_ids(merged.get("AccountsWithoutMemberRole", "")) | failed
        merged[ENFORCEMENT] = enforcement
        merged[EVENTS_SWITCH] = switch(events_on)
        merged.setdefault("MemberRoleName", "iam-user-console-mfa-reader")
        deploy_conformance_pack(run.client("config", region), function, merged, excluded, run.say)
    return done
