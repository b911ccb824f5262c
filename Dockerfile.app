# The Task API image; the same image runs the reference notification-service
# (command: notification-service). Installs only the `app` extra, from its hashed lock.
#
# BASE_IMAGE is the official Python image pinned by digest. Any Debian-like image with
# python3.11 and its venv module gives the same layout (/opt/venv), e.g. the debootstrap
# stand-in that scripts/images.sh builds where no registry is reachable.
ARG BASE_IMAGE=python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

FROM ${BASE_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
COPY requirements/build.lock requirements/app.lock /locks/
# Two venvs: /opt/build holds the wheel-building tools, /opt/venv only what the program runs.
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes --only-binary=:all: -r /locks/build.lock \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --only-binary=:all: -r /locks/app.lock
# README.md only feeds the wheel's long description, which nobody reads in an image: an empty
# one keeps README edits from invalidating the layers below.
COPY pyproject.toml /src/
COPY app /src/app
COPY operator /src/operator
# The project itself: no dependencies (all came from the lock), then pip leaves the venv.
RUN touch /src/README.md \
 && /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels /src \
 && /opt/venv/bin/pip install --no-deps --no-index /wheels/*.whl \
 && /opt/venv/bin/pip check \
 && /opt/venv/bin/python -m pip uninstall --yes pip setuptools

FROM ${BASE_IMAGE}
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# The user the pods run as, in /etc/passwd: a kubelet adds no entry for a runAsUser (podman does),
# and kopf names its identity with getpass.getuser(), which fails for a uid passwd lacks.
RUN groupadd --system --gid 10001 taskapi \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin taskapi
COPY --from=build /opt/venv /opt/venv
# numeric non-root user, so runAsNonRoot can be verified by the kubelet
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["taskapi"]
