# The two commands a newcomer needs: `make run` and `make test`.
PY_BOOT ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv test run worker clean

$(STAMP): requirements.txt backend/pyproject.toml
	$(PY) -m pip --version >/dev/null 2>&1 || $(PY_BOOT) -m venv --clear $(VENV)  # --clear: a half-made venv
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e backend
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# The one run command: venv, migrate, register the shipped model, create the admin
# (password printed once), then start the server(s) and print their URLs.
run: $(STAMP)
	$(PY) backend/scripts/run_dev.py

# A Celery worker for both queues (`make run` starts one too), with Celery beat in it (-B: the
# stale-run sweeps; a second beat does no harm). Without REDIS_URL it uses the file-system
# broker under var/broker. GPU nodes: see backend/apps/training/README.md.
worker: $(STAMP)
	mkdir -p var
	cd backend && ../$(PY) -m celery -A config worker \
		-Q "$${SIGVERIFY_DEFAULT_QUEUE:-default},$${SIGVERIFY_GPU_QUEUE:-gpu}" \
		--concurrency "$${SIGVERIFY_WORKER_CONCURRENCY:-2}" --loglevel INFO \
		-B --schedule ../var/celerybeat-schedule

clean:
	rm -rf $(VENV) var test-artifacts
