# The book's commands. Each creates the virtual environment .venv and
# installs what it needs by itself, so they work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SCALE ?= book
# Debian's Chromium, for the browser test of the built book (tests/test_browser.py)
CHROMIUM ?= /usr/bin/chromium

.PHONY: book test chromium notebooks bench lint typecheck lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# constraints.txt pins every package at the release the stored outputs were produced
# with (torch 2.14.1, torchvision 0.29.1, ...); `make lock` rewrites it from .venv.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[book,test]"
	touch $@

## book: build the rendered book into _build/html from the stored outputs
book: $(VENV)/.installed
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going --quiet

## test: lint, unit tests, every notebook at smoke scale (nbval), the book build and
## every page of it opened in headless Chromium
## (one thread: the models are small, and two threads thrash on a busy 2-core CPU)
test: $(VENV)/.installed chromium
	$(BIN)/ruff check lib tests scripts _ext book
	$(BIN)/mypy
	GANBOOK_CHROMIUM=$(CHROMIUM) OMP_NUM_THREADS=1 GANBOOK_SCALE=smoke GANBOOK_CACHE=$$(mktemp -d) $(BIN)/python -m pytest --nbval-lax --nbval-current-env \
		--durations=10 tests book

## chromium: install Debian's Chromium with apt when it is missing (the browser test
## fails with a message saying so if it cannot be installed)
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		if command -v apt-get >/dev/null 2>&1; then \
			sudo=$$([ "$$(id -u)" = 0 ] || echo "sudo -n"); \
			echo "Installing chromium with apt-get for the browser test"; \
			export DEBIAN_FRONTEND=noninteractive; \
			$$sudo apt-get install -y -q chromium >/dev/null 2>&1 \
			|| { $$sudo apt-get update -q >/dev/null && $$sudo apt-get install -y -q chromium >/dev/null; } \
			|| echo "Could not install chromium: the browser test will fail"; \
		else \
			echo "No $(CHROMIUM) and no apt-get: install Chromium for the browser test"; \
		fi; \
	fi

## notebooks: re-execute every notebook at SCALE (smoke, book, paper), store outputs
notebooks: $(VENV)/.installed
	$(BIN)/python scripts/execute_notebooks.py --scale $(SCALE)

## bench: each chapter's training speed and memory at book settings, the Bayesian GAN's
## looped against batched step time, the notebooks' times (scripts/bench.py, scripts/bench_bgan.py)
bench: $(VENV)/.installed
	$(BIN)/python scripts/bench.py --notebooks smoke
	$(BIN)/python scripts/bench_bgan.py

lint: $(VENV)/.installed
	$(BIN)/ruff check lib tests scripts _ext book

## typecheck: mypy over lib/ (configured in pyproject.toml)
typecheck: $(VENV)/.installed
	$(BIN)/mypy

## lock: pin the environment's exact versions into constraints.txt
lock: $(VENV)/.installed
	{ echo "# The exact releases the book's stored outputs were produced with: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf _build _vendor
