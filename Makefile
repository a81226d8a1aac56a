# The book's commands. Each creates the virtual environment .venv and
# installs what it needs by itself, so they work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCALE ?= book

.PHONY: book test notebooks bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[book,test]"
	touch $@

## book: build the rendered book into _build/html from the stored outputs
book: $(VENV)/.installed
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going --quiet

## test: lint, unit tests, every notebook at smoke scale (nbval), the book build
## (one thread: the models are small, and two threads thrash on a busy 2-core CPU)
test: $(VENV)/.installed
	$(BIN)/ruff check lib tests scripts
	OMP_NUM_THREADS=1 GANBOOK_SCALE=smoke GANBOOK_CACHE=$$(mktemp -d) $(BIN)/python -m pytest --nbval-lax --nbval-current-env \
		--durations=10 tests book

## notebooks: re-execute every notebook at SCALE (smoke, book, paper), store outputs
notebooks: $(VENV)/.installed
	$(BIN)/python scripts/execute_notebooks.py --scale $(SCALE)

## bench: step time of the Bayesian GAN's J x M weight samples, looped against batched
bench: $(VENV)/.installed
	$(BIN)/python -m ganbook.bench_bgan

lint: $(VENV)/.installed
	$(BIN)/ruff check lib tests scripts

clean:
	rm -rf _build
