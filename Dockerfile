FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    PRASAN_HTTP_HOST=0.0.0.0 \
    PRASAN_VAR_DIR=/var/lib/prasan \
    PRASAN_CONFIG_DIR=/etc/prasan
# Only what the build reads: the wheel carries config/ (code lists, crosswalks, master data, default routes)
# as package data, so nothing of the source tree is needed once it is installed.
WORKDIR /build
COPY pyproject.toml setup.py README.md ./
COPY canonical_model ./canonical_model
COPY core ./core
COPY plugins ./plugins
COPY admin_api ./admin_api
COPY prasan ./prasan
COPY config ./config
RUN pip install --no-cache-dir '.[postgres]' \
    && cd / && rm -rf /build \
    && useradd --create-home prasan \
    && mkdir -p /var/lib/prasan /etc/prasan \
    && chown prasan /var/lib/prasan
# /etc/prasan: the operator's hub.yaml and routes.yaml (mount them; without them the shipped defaults apply).
# /var/lib/prasan: the SQLite database when PRASAN_DATABASE_URL is not set (mount a volume to keep it).
WORKDIR /home/prasan
USER prasan
EXPOSE 8080
HEALTHCHECK CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz')" || exit 1
CMD ["prasan", "serve"]
