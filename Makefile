# TrialDocs — the two commands that matter are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO_ADDR ?= 127.0.0.1:8000

.PHONY: install demo cluster test test-cluster lint messages clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

# The address inside signed PDFs and e-mails follows DEMO_ADDR (override with TRIALDOCS_PUBLIC_URL=https://…).
TRIALDOCS_PUBLIC_URL ?= http://$(DEMO_ADDR)
export TRIALDOCS_PUBLIC_URL

# The demo: set up, then the background worker (its log in var/log/worker.log, restarted whenever it exits) and
# the web server on DEMO_ADDR; the demo logins are printed last, once the server answers.
# The demo PKI's TSA, OCSP responder and CRLs (certomancer's Animator) on 127.0.0.1:$(PKI_PORT), written into the
# demo certificates; `manage.py pki_services` waits for the PKI that load_demo creates and follows its changes.
PKI_PORT ?= 9101
TRIALDOCS_PKI_SERVICES_URL ?= http://127.0.0.1:$(PKI_PORT)
export TRIALDOCS_PKI_SERVICES_URL

demo: install
	$(PY) manage.py migrate --noinput
	@mkdir -p var/log
	@echo "Demo PKI services (TSA, OCSP, CRLs): log in var/log/pki.log"
	@$(PY) manage.py pki_services >>var/log/pki.log 2>&1 & echo $$! > var/pki-services.pid
	@trap 'kill $$(cat var/pki-services.pid) 2>/dev/null' INT TERM; \
	$(PY) manage.py load_demo --no-logins --addr $(DEMO_ADDR) || { kill $$(cat var/pki-services.pid); exit 1; }
	@echo "Background worker: log in var/log/worker.log (restarted if it stops)"
	@( trap 'kill $$worker 2>/dev/null; exit 0' TERM; \
	   while :; do \
	     $(PY) manage.py db_worker --no-reload >>var/log/worker.log 2>&1 & worker=$$!; wait $$worker; status=$$?; \
	     echo "$$(date -u '+%F %T') worker exited (status $$status): restarting" | tee -a var/log/worker.log >&2; \
	     sleep 2; \
	   done ) & supervisor=$$!; \
	trap 'kill $$supervisor $$(cat var/pki-services.pid) 2>/dev/null' EXIT INT TERM; \
	( $(PY) manage.py demo_logins --addr $(DEMO_ADDR) --wait 60 & ); \
	$(PY) manage.py runserver $(DEMO_ADDR)

# A whole deployment on this machine (scripts/cluster.sh): PostgreSQL (its own database, CLUSTER_DB), Redis on
# 6390, the object store when scripts/objectstore.sh exists, two gunicorn app servers, an RQ task worker and nginx
# on http://127.0.0.1:8080. Needs the Debian packages nginx-light and redis-server. Ctrl-C stops it all.
cluster: install
	scripts/cluster.sh

# The suite runs on TEST_WORKERS processes (pytest-xdist, one test database each), then the tests marked `serial`
# (they restart PostgreSQL or the like) alone. Exit status 5 is "no test selected" (PYTEST_ARGS naming other tests).
TEST_WORKERS ?= 2
test: install
	$(PY) -m pytest -n $(TEST_WORKERS) -m "not serial and not cluster" $(PYTEST_ARGS)
	$(PY) -m pytest -p no:xdist -m "serial and not cluster" $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The cluster of `make cluster` started and killed piece by piece (tests/test_cluster.py): PostgreSQL, nginx and
# redis-server needed; ports 8080-8082 and 6390 free.
test-cluster: install
	TRIALDOCS_CLUSTER_TESTS=1 $(PY) -m pytest -p no:xdist -m cluster tests/test_cluster.py $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

# Needs GNU gettext (msgfmt/xgettext); the compiled .mo files are committed so the demo works without it.
messages: install
	$(PY) manage.py makemessages -l fr -l en --ignore '.venv/*' --ignore 'tests/*'
	$(PY) manage.py compilemessages --ignore '.venv/*'

clean:
	rm -rf $(VENV) db.sqlite3 .pytest_cache
