FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PRASAN_HTTP_HOST=0.0.0.0
COPY pyproject.toml README.md ./
COPY canonical_model ./canonical_model
COPY core ./core
COPY plugins ./plugins
COPY admin_api ./admin_api
COPY prasan ./prasan
COPY config ./config
RUN pip install --no-cache-dir '.[postgres]' && useradd --create-home prasan && mkdir -p var && chown prasan var
USER prasan
EXPOSE 8080
HEALTHCHECK CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8080/healthz')" || exit 1
CMD ["prasan", "serve"]
