.PHONY: setup demo test lint bench clean stop

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/dossier demo

test: setup
	.venv/bin/python -m pytest -q

lint: setup
	.venv/bin/ruff check .

bench:
	@bash scripts/setup.sh --bench
	.venv/bin/dossier bench

stop:
	-.venv/bin/dossier stop

clean: stop
	rm -rf .dossier
