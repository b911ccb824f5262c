# The Task API image; the same image runs the reference notification-service
# (command: notification-service). Dependencies come from the project's own pyproject.
FROM python:3.11.14-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
COPY operator ./operator
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11.14-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local
# numeric non-root user, so runAsNonRoot can be verified by the kubelet
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["taskapi"]
