# The two commands a new user needs (see README.md). Both set up .venv first.
.PHONY: demo test lint setup docs

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/patchwire demo

# The programs the tests drive come first: a machine that cannot get one stops in a second.
test:
	@bash scripts/provision.sh
	@bash scripts/setup.sh
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet
	bash scripts/test.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# The documentation site (docs/, mkdocs.yml) at http://127.0.0.1:8000, rebuilt on every save.
docs: setup
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs serve --strict
