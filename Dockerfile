# One image for every role of docker-compose.yml: web (gunicorn), worker and gpu-worker (Celery),
# interface (Streamlit). It installs the pinned requirements.txt; the torch wheel the default index
# serves for Linux includes CUDA, so the same image runs on a GPU node.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    PYTHONPATH=/app/backend

WORKDIR /app
RUN useradd --create-home --uid 10001 sigverify

# Dependencies first, so code changes do not reinstall them.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY backend/ backend/
COPY interface/ interface/
COPY trained_model_parameters/ trained_model_parameters/
RUN pip install --no-deps -e backend \
    # Static files (admin, Swagger UI) are served by whitenoise from STATIC_ROOT; the throwaway values
    # below only let the production settings load for this build step.
    && DJANGO_SECRET_KEY=build-only-not-a-secret-0123456789abcdef DJANGO_ALLOWED_HOSTS=localhost \
       DATABASE_URL=sqlite:////tmp/build.sqlite3 DJANGO_STATIC_ROOT=/app/static \
       python backend/manage.py collectstatic --noinput -v 0 \
    && mkdir -p /data/media /data/models /data/organized_data \
    && chown -R sigverify /data

USER sigverify
EXPOSE 8000 8501
CMD ["gunicorn", "--chdir", "/app/backend", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
