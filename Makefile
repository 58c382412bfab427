# The two commands a new user needs (see README.md). Both set up .venv first.
.PHONY: demo test lint setup

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/patchwire demo

# The programs the tests drive come first: a machine that cannot get one stops in a second.
test:
	@bash scripts/provision.sh
	@bash scripts/setup.sh
	bash scripts/test.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
