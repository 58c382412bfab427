# The two commands a new user needs (see README.md). Both set up .venv first.
.PHONY: demo test lint setup

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/patchwire demo

test: setup
	bash scripts/test.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
