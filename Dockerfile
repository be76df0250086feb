# syntax=docker/dockerfile:1
# The image of the rfq_pipeline code location: the user-code deployment of the Dagster Helm chart, the pods of its
# runs (K8sRunLauncher) and steps (k8s_job_executor), the one-shot Jobs in helm/, and Dagster+ Hybrid.
#
#   make image                      # docker build -t rfq-pipeline:dev .
#   docker run --rm rfq-pipeline:dev rfq-pipeline db status       # any `rfq-pipeline ...` command
#   docker run --rm -p 3030:3030 rfq-pipeline:dev                 # the code server (the default command)
#
# Dependencies are pyproject.toml's, at the exact versions of constraints.txt; torch is the CPU build from the
# PyTorch index (no CUDA libraries). The local models are built here, so a container downloads nothing.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CONSTRAINT=/src/constraints.txt \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
WORKDIR /src
# Dependencies first (layers that change only with pyproject.toml or constraints.txt). Every pip command below is
# held to constraints.txt (PIP_CONSTRAINT), pip itself included.
COPY pyproject.toml constraints.txt ./
RUN python -m venv /opt/venv && pip install --upgrade pip
# torch alone from the CPU index, at pyproject's pin; the next step keeps it (the pin matches 2.13.0+cpu) and fetches
# its pure-Python dependencies from PyPI.
RUN torch_pin="$(python -c 'import tomllib; print(next(d for d in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"] if d.startswith("torch==")))')" \
 && pip install --no-deps --index-url "${TORCH_INDEX_URL}" "${torch_pin}"
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' > requirements.txt \
 && pip install --only-binary=:all: -r requirements.txt \
 && python -c 'import importlib.metadata as m, torch; cuda = [d.metadata["Name"] for d in m.distributions() if d.metadata["Name"].lower().startswith(("nvidia-", "triton"))]; assert torch.version.cuda is None and not cuda, (torch.version.cuda, cuda)'

# The package (not editable: it lives in site-packages with its package data).
COPY README.md ./
COPY rfq_pipeline ./rfq_pipeline
RUN pip install --no-deps . && pip check
# Distill the static embedder and train the classifier into the installed package (rfq_pipeline/ai/models/ in
# site-packages; the lookup runs from / so that Python imports the installed package, not the sources in /src). The
# code takes a file lock beside the artifacts before it reads them, so the runtime user must be able to open the
# lock files for writing; the artifacts themselves stay read-only.
RUN rfq-pipeline models build \
 && models="$(cd / && python -c 'from rfq_pipeline.ai.classifier import MODELS_DIR; print(MODELS_DIR)')" \
 && touch "${models}/.distill.lock" "${models}/.classifier.lock" \
 && chmod 0666 "${models}/.distill.lock" "${models}/.classifier.lock" \
 && ls -l "${models}"


FROM ${PYTHON_IMAGE} AS runtime
ARG UID=10001
LABEL org.opencontainers.image.title="rfq-pipeline" \
      org.opencontainers.image.description="Dagster code location rfq_pipeline (rfq_pipeline.definitions)"
RUN groupadd --system --gid "${UID}" rfq \
 && useradd --system --uid "${UID}" --gid rfq --home-dir /home/rfq --create-home --shell /usr/sbin/nologin rfq \
 && mkdir -p /opt/dagster/dagster_home /var/lib/rfq-pipeline \
 && chown rfq:rfq /opt/dagster/dagster_home /var/lib/rfq-pipeline
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Migrations (read by `rfq-pipeline db migrate` from RFQ_MIGRATIONS_DIR), the local instance and workspace files.
COPY sql ./sql
COPY dagster.yaml workspace.yaml ./
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RFQ_MIGRATIONS_DIR=/app/sql \
    RFQ_DATA_DIR=/var/lib/rfq-pipeline \
    DAGSTER_HOME=/opt/dagster/dagster_home \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_HOME=/tmp/huggingface
USER ${UID}:${UID}
# As the runtime user: every model is found (nothing is built or fetched) and the definitions load.
RUN rfq-pipeline models build && python -W ignore -c "import rfq_pipeline.definitions"

EXPOSE 3030
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["dagster", "api", "grpc-health-check", "-p", "3030"]
# The user-code server; the Helm chart runs the same command (codeServerArgs), Dagster+ agents their own.
CMD ["dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "3030", "-m", "rfq_pipeline.definitions", "--location-name", "rfq_pipeline"]
