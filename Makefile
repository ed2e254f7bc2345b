# One virtualenv for everything; every target that needs it builds it first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help demo demo-walkthrough test docs screenshot check guard audit browser bench bench-cost bench-quick bench-freshness bench-freshness-quick package deploy deploy-organization deploy-member-role doctor rdk-check clean

# `make` alone, or `make help`: every target with the text after `## ` on its line, or on a
# `## target: text` line (for the deploy targets, whose lines are kept as they are).
help: ## List the targets, one line each
	@awk '/^[a-zA-Z_-]+:[^#=]*## / { name = $$0; sub(/:.*/, "", name); text = $$0; sub(/^[^#]*## /, "", text); printf "  %-20s %s\n", name, text } \
	  /^## [a-zA-Z_-]+: / { name = $$2; sub(/:$$/, "", name); text = $$0; sub(/^## [^:]*: /, "", text); printf "  %-20s %s\n", name, text }' $(firstword $(MAKEFILE_LIST))

## deploy: Deploy one account's stack: BUCKET=... REGION=... [STACK=...] [PARAMS=...] [NO_EVENTS=1] [YES=1]
## deploy-organization: Deploy the organization stack: BUCKET=... REGION=... [PARAMS=...] [NO_EVENTS=1] [YES=1]
## deploy-member-role: Deploy the member role in the management account: REGION=... PARAMS=...

$(STAMP): requirements.txt requirements-dev.txt requirements-docs.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.10 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 10) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -r requirements-docs.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP) ## Evaluate an emulated AWS account (no AWS account needed)
	$(BIN)/mfa-audit demo --exit-zero

# Also a self-check of enforcement's whole path: it exits 1, naming the step, if a step does not see what it expects.
demo-walkthrough: $(STAMP) ## One user from a new console password through notice and enforcement to MFA, emulated day by day
	$(BIN)/mfa-audit demo --walkthrough

CHECKOV := .venv-checkov/bin/checkov

$(CHECKOV): requirements-checkov.txt
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip install --quiet --upgrade pip
	.venv-checkov/bin/python -m pip install --quiet -r requirements-checkov.txt

# The RDK CLI 1.0.0 needs Python 3.12+: pyenv's, or any python3.12/3.13 on PATH.
PYTHON_RDK ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) $(shell command -v python3.12 python3.13 2>/dev/null))
RDK := .venv-rdk/bin/rdk

# Without any Python 3.12+ the RDK checks say NOT RUN (tests/functional/test_rdk_route.py) rather than fail.
$(RDK): requirements-rdk.txt
	@if [ -z "$(PYTHON_RDK)" ]; then echo "RDK route: NOT RUN - no Python 3.12+ here (the rdk CLI needs it); set PYTHON_RDK=..."; else \
	  set -e; $(PYTHON_RDK) -m venv .venv-rdk; \
	  .venv-rdk/bin/python -m pip install --quiet --upgrade pip; \
	  .venv-rdk/bin/python -m pip install --quiet -r requirements-rdk.txt; fi

# The HTML report is checked in a real headless browser (tests/functional/test_org_report.py).
# Installed with apt-get only as root where apt-get exists, and said so first; elsewhere the browser
# tests say NOT RUN and are skipped, visibly. CHROMIUM=/path/to/chromium names one that is not on PATH.
browser: ## Find Chromium for the HTML report test, or install Debian's (root with apt-get only, said first)
	@if [ -n "$$CHROMIUM" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "browser: installing Debian's chromium with apt-get (for the HTML report test) ..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "browser: HTML report test NOT RUN - no Chromium here, and installing it needs root and apt-get (README, Tests: how to get Chromium)"; fi

test: $(STAMP) $(CHECKOV) $(RDK) browser ## Run every test, make check and make docs (about 6 minutes)
	$(BIN)/python -m pytest
	$(MAKE) --no-print-directory check
	$(MAKE) --no-print-directory docs

# The docs site (mkdocs.yml, docs/): --strict turns every warning, a broken link or anchor included, into a failure
# (never with --quiet: mkdocs then drops the warnings before strict mode counts them).
docs: $(STAMP) ## Build the docs site into build/site with --strict (a broken link or anchor fails)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

# docs/images/organization-report.png: the demo organization's HTML report, in the report test's headless Chromium.
screenshot: $(STAMP) browser ## Remake docs/images/organization-report.png from mfa-audit report --demo --format html
	$(BIN)/python -m tools.docs_screenshot docs/images/organization-report.png

# Static checks (also part of `make test`): templates, code style, code security, dependencies.
check: $(STAMP) $(CHECKOV) ## Static checks: cfn-lint, checkov, our Guard rules, ruff, bandit, dependency audit
	$(BIN)/cfn-lint cloudformation/*.yaml
	$(CHECKOV) -d cloudformation --framework cloudformation --quiet --compact --skip-download
	$(MAKE) --no-print-directory guard
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -r rules src tools -ll
	$(MAKE) --no-print-directory audit

# Our own Guard rules (cloudformation/guard/rules.guard): the registry checks we adopted, in our words.
guard: $(STAMP) ## Run our CloudFormation Guard rules on the templates (cfn-guard-rs)
	$(BIN)/python -m tools.guard_check

audit: $(STAMP) ## Audit every pinned requirements file for known vulnerabilities (pip-audit)
	$(BIN)/python -m tools.audit_dependencies

package: $(STAMP) ## Build dist/IAM_USER_CONSOLE_MFA.zip (reproducible) and print its SHA-256
	$(BIN)/python -m tools.package_lambda

# Every deploy shows its change set first and keeps the parameters it is not given.
# It applies without asking with YES=1 (or CI=true); otherwise it asks on the terminal.
# PARAMS reaches the deploy tool through the environment (MFA_DEPLOY_PARAMS), never through a shell:
# Key=value words; a word that does not start with Name= continues the previous value, so
# PARAMS="ExemptUsers=alice, bob GracePeriodDays=7" is two parameters. Quote a value holding " Name=".
# make deploy BUCKET=my-artifacts REGION=us-east-1 [STACK=iam-user-console-mfa] [PARAMS="GracePeriodDays=14 AlarmEmail=a@b.c"] [YES=1]
# Exported for every recipe (only the deploy tool reads it), so that make's database keeps one block per target.
export MFA_DEPLOY_PARAMS = $(value PARAMS)

# The usage is checked before the zip is built: a call without BUCKET or REGION builds nothing.
deploy: $(STAMP)
	@test -n "$(BUCKET)" -a -n "$(REGION)" || { echo "usage: make deploy BUCKET=... REGION=... [PARAMS=\"Key=Value ...\"] [YES=1]"; exit 2; }
	@$(MAKE) --no-print-directory package
	$(BIN)/python -m tools.deploy --bucket $(BUCKET) --region $(REGION) $(if $(STACK),--stack $(STACK)) $(if $(NO_EVENTS),--no-events) $(if $(YES),--yes)

# make deploy-organization BUCKET=... REGION=... [PARAMS="DeploymentOrganizationalUnitIds=ou-..."] [MANAGEMENT_ACCOUNT_HAS_ROLE=1] [YES=1]
deploy-organization: $(STAMP)
	@test -n "$(BUCKET)" -a -n "$(REGION)" || { echo "usage: make deploy-organization BUCKET=... REGION=... [PARAMS=\"Key=Value ...\"] [YES=1]"; exit 2; }
	@$(MAKE) --no-print-directory package
	$(BIN)/python -m tools.deploy --organization --bucket $(BUCKET) --region $(REGION) $(if $(STACK),--stack $(STACK)) $(if $(MANAGEMENT_ACCOUNT_HAS_ROLE),--management-account-has-role) $(if $(NO_EVENTS),--no-events) $(if $(YES),--yes)

# With the management account's credentials, when the organization stack lives in a delegated administrator:
# make deploy-member-role REGION=us-east-1 PARAMS="FunctionRoleArn=arn:aws:iam::<admin>:role/... OrganizationId=o-..." [YES=1]
deploy-member-role: $(STAMP)
	@test -n "$(REGION)" || { echo "usage: make deploy-member-role REGION=... PARAMS=\"FunctionRoleArn=... OrganizationId=o-...\" [YES=1]"; exit 2; }
	$(BIN)/python -m tools.deploy --member-role --region $(REGION) $(if $(YES),--yes)

# make doctor REGION=us-east-1 [STACK=iam-user-console-mfa] [ORGANIZATION=1] [PROFILE=...]
doctor: $(STAMP) ## Check a live deployment, read-only: REGION=... [STACK=...] [ORGANIZATION=1] [PROFILE=...]
	@test -n "$(REGION)" || { echo "usage: make doctor REGION=... [STACK=...] [ORGANIZATION=1] [PROFILE=...]"; exit 2; }
	$(BIN)/mfa-audit doctor --region $(REGION) $(if $(STACK),--stack $(STACK)) $(if $(ORGANIZATION),--organization) $(if $(PROFILE),--profile $(PROFILE))

# The checks `make test` runs with the rdk CLI 1.0.0; NOT RUN (skipped, visibly) without Python 3.12+.
rdk-check: $(STAMP) $(RDK) ## Run the rdk CLI checks on the rule folder (rdk test-local, create-rule-template)
	$(BIN)/python -m pytest -p no:cacheprovider -rs tests/functional/test_rdk_route.py

clean: ## Remove the virtualenvs and build output
	rm -rf $(VENV) .venv-checkov .venv-rdk build dist rules/IAM_USER_CONSOLE_MFA/*.egg-info

# make bench takes about 30 minutes on 2 cores (the sweep benchmark ~16, the cost benchmark ~15);
# make bench-quick runs both at 500 users only, in about 2 minutes.
bench: $(STAMP) ## Sweep, cost and freshness benchmarks at 500, 2,000 and 5,000 users (about 30 minutes)
	$(BIN)/python -m benchmarks.sweep
	$(BIN)/python -m benchmarks.cost
	$(BIN)/python -m benchmarks.freshness

bench-cost: $(STAMP) ## Cost benchmark only: a day of hourly sweeps at each size (about 15 minutes)
	$(BIN)/python -m benchmarks.cost

bench-quick: $(STAMP) ## The three benchmarks at 500 users only (about 2 minutes)
	$(BIN)/python -m benchmarks.sweep --sizes 500 --latency-ms 10
	$(BIN)/python -m benchmarks.cost --sizes 500
	$(BIN)/python -m benchmarks.freshness --sizes 500

# Change -> right result in Config, with and without the event path, under each reading of
# StartConfigRulesEvaluation (simulated clock, a few seconds); the quick variant at 500 users.
bench-freshness: $(STAMP) ## Freshness benchmark: change to right result, with and without the event path
	$(BIN)/python -m benchmarks.freshness

bench-freshness-quick: $(STAMP) ## Freshness benchmark at 500 users only
	$(BIN)/python -m benchmarks.freshness --sizes 500
