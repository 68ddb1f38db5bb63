# msdkit: train Medical Segmentation Decathlon U-Nets from Go notebooks.
#
#   make run      the main job: Task04_Hippocampus notebook, headless -> out/run/
#   make test     everything CI runs: vet, Go tests, every notebook headless, Jupyter check
#   make jupyter  serve the notebooks on http://127.0.0.1:$(PORT)
#
# Every target installs what it needs first (kernel-setup/install.sh, idempotent).
SHELL := /bin/bash
.DEFAULT_GOAL := help
OUT  ?= out
PORT ?= 8888
# Real data for tests when the shared copy sits beside the checkout; notebooks
# fall back to generated phantoms when no data is found.
SHARED_DATA := $(wildcard ../shared/data)

.PHONY: help setup test gotest nbtest jupyter-check run jupyter gpu-bundle clean

help:
	@sed -n '1,7p' Makefile | sed 's/^# \{0,1\}//'

setup:
	@bash kernel-setup/install.sh

gotest:
	go vet ./...
	go test ./...

# nbtest runs notebooks in fast mode (NB=path runs one, default all of notebooks/).
nbtest: setup
	MSD_FAST=1 $(if $(SHARED_DATA),MSD_DATA=$${MSD_DATA:-$(abspath $(SHARED_DATA))}) \
	  go run ./cmd/nbrun -out $(OUT)/notebooks $(or $(NB),notebooks)

jupyter-check: setup
	@bash kernel-setup/check_jupyter.sh

test: setup gotest nbtest jupyter-check
	@echo "make test: all passed"

# run executes the Task04 notebook in full mode. It uses $$MSD_DATA when set
# (e.g. MSD_DATA=../shared/data), else fetches Task04 (27 MB, md5-checked) into data/.
run: setup
	go run ./cmd/msdkit download -task Task04_Hippocampus
	go run ./cmd/nbrun -html -out $(OUT)/run notebooks/BaseLines/Task04_Hippocampus.ipynb
	@echo "executed notebook and HTML render in $(OUT)/run/notebooks/BaseLines/"

jupyter: setup
	@echo "serving notebooks/ on http://127.0.0.1:$(PORT)/ (the login URL with its token follows; Ctrl-C stops)"
	JUPYTER_PATH=$(CURDIR)/.jupyter jupyter notebook --no-browser --ip=127.0.0.1 --port=$(PORT) \
	  --notebook-dir=$(CURDIR)/notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# gpu-bundle prepares the GPU check (cmd/unetbench/gpu_check.sh) for a machine without Go:
# linux/amd64 unetbench and msdkit, plus a copy of Task04 from $$MSD_DATA (default the shared
# copy) in $(OUT)/gpu. Run there: bash cmd/unetbench/gpu_check.sh $(OUT)/gpu OUTDIR
gpu-bundle:
	mkdir -p $(OUT)/gpu/bin $(OUT)/gpu/data
	GOOS=linux GOARCH=amd64 go build -ldflags "-s -w" -o $(OUT)/gpu/bin/ ./cmd/unetbench ./cmd/msdkit
	rm -rf $(OUT)/gpu/data/Task04_Hippocampus
	cp -r $${MSD_DATA:-$(or $(SHARED_DATA),data)}/Task04_Hippocampus $(OUT)/gpu/data/
	du -sh $(OUT)/gpu

clean:
	rm -rf $(OUT)
