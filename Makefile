.PHONY: setup demo test lint audit bench clean stop

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/dossier demo

test: setup
	.venv/bin/python -m pytest -q

# The shape: ruff over the tree, mypy over the core packages ([tool.mypy] in pyproject.toml).
lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy

# Known vulnerabilities in the installed packages; needs PyPI's JSON API or OSV (not in CI).
audit: setup
	.venv/bin/pip-audit --strict --skip-editable --progress-spinner off

bench:
	@bash scripts/setup.sh --bench
	.venv/bin/dossier bench

stop:
	-.venv/bin/dossier stop

clean: stop
	rm -rf .dossier
