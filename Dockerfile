# carepath service images: one file, one target per service.
#
#   docker build --target intake   -t carepath-intake .
#   docker build --target triage   -t carepath-triage .
#   docker build --target followup -t carepath-followup .
#   docker build --target notifier -t carepath-notifier .
#   docker build --target worklist -t carepath-worklist .
#
# Every target shares the same installed distribution ("carepath": packages carepath, intake, triage,
# followup, notifier, worklist) and the same data folders; only the command, the exposed ports and the health check
# differ. The development tooling (lib/carepath_tools: the embedded broker, bench, demo, chaos, fuzz) is not
# copied in, so its `carepath-broker` script is not usable in an image (the images talk to a real Kafka).
# Settings come from the environment (see lib/carepath/settings.py); nothing secret is baked in.

ARG PYTHON_IMAGE=python:3.11-slim

# --- build: install the project and its locked dependencies into a virtualenv --------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements/build.lock requirements/runtime.lock requirements/
# Every distribution checked against its locked hashes; nothing resolved at build time. The runtime lock
# holds no development tool and not the embedded broker (the `demo` extra): the images talk to a real Kafka.
RUN pip install --require-hashes -r requirements/build.lock \
 && pip install --require-hashes --no-deps -r requirements/runtime.lock
# The triage and followup cores are compiled with mypyc as the project installs (setup.py, README "The
# compiled core"): a C compiler in this stage only. The build lock's tools (pip, setuptools, mypy) stay in
# the virtualenv.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml setup.py ./
COPY lib/carepath/ lib/carepath/
COPY services/ services/
RUN pip install --no-deps --no-build-isolation . \
 && pip check \
 && python -c "import triage.core, followup.core, carepath.streaming as s; assert triage.core.COMPILED and followup.core.COMPILED and s.MURMUR2_COMPILED, 'a core was not compiled'"

# --- runtime: what every service image holds ---------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 carepath \
 && useradd --system --uid 10001 --gid carepath --home-dir /srv/carepath --create-home \
            --shell /usr/sbin/nologin carepath
COPY --from=build /opt/venv /opt/venv
COPY schemas/ /opt/carepath/schemas/
COPY pathways/ /opt/carepath/pathways/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CAREPATH_SCHEMAS_DIR=/opt/carepath/schemas \
    CAREPATH_PATHWAYS_DIR=/opt/carepath/pathways \
    CAREPATH_BIND_HOST=0.0.0.0 \
    CAREPATH_BROKER_PROFILE=kafka \
    CAREPATH_ENVIRONMENT=production
# The working directory is the only writable place the services need (the stream processors keep their
# local table data here; the tables themselves are rebuilt from their changelog topics on start).
WORKDIR /srv/carepath
USER 10001:10001
STOPSIGNAL SIGTERM

# --- intake: HTTP (JSON, FHIR R4, /metrics, /healthz, /readyz) on 8080 and HL7 v2 over MLLP on 2575 -----
# (`python -m intake.hl7` runs the MLLP listener alone, with /healthz /readyz /metrics on 8081)
FROM runtime AS intake
EXPOSE 8080 2575 8081
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
CMD ["python", "-m", "intake"]

# --- triage: red-flag rules over clinical.events; web (/metrics, /healthz, /readyz) on 6066 -----------
FROM runtime AS triage
EXPOSE 6066
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/healthz', timeout=4)"]
CMD ["python", "-m", "triage"]

# --- followup: expectations, deadlines and the acknowledgement chain; web on 6067 ----------------------
FROM runtime AS followup
EXPOSE 6067
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6067/healthz', timeout=4)"]
CMD ["python", "-m", "followup"]

# --- notifier: escalations and reminders to paging, messaging and FHIR endpoints; web on 6068 -----------
FROM runtime AS notifier
EXPOSE 6068
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6068/healthz', timeout=4)"]
CMD ["python", "-m", "notifier"]

# --- worklist: the clinicians' page (login, /metrics, /healthz, /readyz) on 6070 ------------------------
FROM runtime AS worklist
EXPOSE 6070
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6070/healthz', timeout=4)"]
CMD ["python", "-m", "worklist"]
