"""Shared settings, read from the environment with django-environ.

Everything deployment-specific comes from environment variables (and from a git-ignored
``<repo>/.env`` when ``DJANGO_READ_DOT_ENV_FILE`` is true); the defaults give an embedded
set-up: SQLite and files under ``<repo>/var/``.
"""

from pathlib import Path

import environ

BACKEND_DIR = Path(__file__).resolve().parents[2]
REPO_DIR = BACKEND_DIR.parent
VAR_DIR = REPO_DIR / "var"

env = environ.Env()
# <repo>/.env is read only when asked (as in cookiecutter-django), so a developer's file never
# changes what the tests or a server see without them saying so.
if env.bool("DJANGO_READ_DOT_ENV_FILE", default=False):
    env.read_env(str(REPO_DIR / ".env"))

# --- Core ---
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default=None) or env(
    "SECRET_KEY", default="insecure-dev-key-only-for-local-use-0123456789abcdefghijklmnop"
)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's assets, served from here: /api/v1/docs/ works offline
    "apps.core",
    "apps.accounts",
    "apps.modelregistry",
    "apps.signers",
    "apps.verifications",
    "apps.mandates",
    "apps.training",
    "apps.clearing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "apps.core.middleware.ApiNotFoundMiddleware",  # above CommonMiddleware: slash redirects stay
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database ---
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"].endswith("sqlite3") and DATABASES["default"]["NAME"] not in ("", ":memory:"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Django's ModelBackend, reading a user's permissions (their own and their groups') in one query, not two.
AUTHENTICATION_BACKENDS = ["apps.accounts.backends.ModelBackendOneQuery"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static and media ---
# Static files (admin, Swagger UI) are served by whitenoise. Media (the uploaded signatures)
# lives outside any served folder and is only streamed by authenticated API/admin views.
STATIC_URL = "static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static")))
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = None  # never served publicly
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Uploads ---
SIGVERIFY_MAX_UPLOAD_MB = env.int("SIGVERIFY_MAX_UPLOAD_MB", default=10)
SIGVERIFY_MAX_PIXELS = env.int("SIGVERIFY_MAX_PIXELS", default=40_000_000)
SIGVERIFY_MAX_FILES_PER_UPLOAD = env.int("SIGVERIFY_MAX_FILES_PER_UPLOAD", default=50)
DATA_UPLOAD_MAX_MEMORY_SIZE = (SIGVERIFY_MAX_UPLOAD_MB + 1) * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = (SIGVERIFY_MAX_UPLOAD_MB + 1) * 1024 * 1024

# --- Model serving ---
SIGVERIFY_MODEL_DIR = Path(env("SIGVERIFY_MODEL_DIR", default=str(REPO_DIR / "trained_model_parameters")))
SIGVERIFY_TORCH_THREADS = env.int("SIGVERIFY_TORCH_THREADS", default=2)
# auto: bf16 autocast where the CPU supports it (2.6-2.9x fp32 on the development machines; the
# EER change is measured by benchmarks/embed_speed.py), fp32 elsewhere.
SIGVERIFY_INFERENCE_PRECISION = env("SIGVERIFY_INFERENCE_PRECISION", default="auto")
if SIGVERIFY_INFERENCE_PRECISION not in ("auto", "fp32", "bf16"):
    raise ValueError("SIGVERIFY_INFERENCE_PRECISION must be auto, fp32 or bf16")
# What embeds (sigverify.runtime): auto = the version's int8 file where its check against PyTorch passed
# and the CPU has VNNI (avx512_vnni / avx_vnni / amx_int8: without it int8 measured no faster than fp32),
# else ONNX Runtime fp32 where the version ships a checked ONNX file (as fast as bf16, also on CPUs
# without it), else PyTorch at SIGVERIFY_INFERENCE_PRECISION; torch; onnx; onnx-int8 = the int8 file
# where its check passed, on any CPU, else as onnx.
SIGVERIFY_INFERENCE = env("SIGVERIFY_INFERENCE", default="auto")
if SIGVERIFY_INFERENCE not in ("auto", "torch", "onnx", "onnx-int8"):
    raise ValueError("SIGVERIFY_INFERENCE must be auto, torch, onnx or onnx-int8")

# --- Redis (optional) ---
REDIS_URL = env("REDIS_URL", default="")

# --- REST framework ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.StandardPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "login": env("SIGVERIFY_LOGIN_THROTTLE", default="10/min"),
        "verify": env("SIGVERIFY_VERIFY_THROTTLE", default="120/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Reverse proxies in front of gunicorn: throttles take the client address that many hops
    # back in X-Forwarded-For. 0: REMOTE_ADDR only (DRF's None would trust a forged header).
    "NUM_PROXIES": env.int("DJANGO_NUM_PROXIES", default=0),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Signature verification API",
    "DESCRIPTION": "Enroll signers' reference signatures and verify questioned signatures "
    "(genuine, refer or forgery). Authenticate with `Authorization: Token <token>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Only the health check and the token endpoint are open; the schema needs a login too.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "VerificationBatchStatusEnum": "apps.verifications.models.VerificationBatch.Status",
        "BatchItemStatusEnum": "apps.verifications.models.BatchItem.Status",
        "BankAccountStatusEnum": "apps.mandates.models.BankAccount.Status",
    },
}

# --- Caches ---
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.request": {"level": "ERROR"}},
}

# --- Celery ---
# Broker and result settings, queue names, routes (the beat schedule is in config/celery.py).
# With REDIS_URL: Redis for broker and results. Without it: kombu's file-system transport
# under var/broker (needs no server; one machine only) and no result store, because job
# state lives in the database (TrainingJob, Promotion, VerificationBatch).
SIGVERIFY_DEFAULT_QUEUE = env("SIGVERIFY_DEFAULT_QUEUE", default="default")
SIGVERIFY_GPU_QUEUE = env("SIGVERIFY_GPU_QUEUE", default="gpu")
SIGVERIFY_MODELS_ROOT = Path(env("SIGVERIFY_MODELS_ROOT", default=str(VAR_DIR / "models")))
SIGVERIFY_ORGANIZED_DATA = Path(env("SIGVERIFY_ORGANIZED_DATA", default=str(REPO_DIR / "organized_data")))
SIGVERIFY_TRAINING_DEVICE = env("SIGVERIFY_TRAINING_DEVICE", default="auto")  # auto = cuda if present
SIGVERIFY_TRAINING_TIME_LIMIT_S = env.int("SIGVERIFY_TRAINING_TIME_LIMIT_S", default=24 * 3600)
SIGVERIFY_HEARTBEAT_S = env.float("SIGVERIFY_HEARTBEAT_S", default=10.0)
SIGVERIFY_STALE_AFTER_S = env.float("SIGVERIFY_STALE_AFTER_S", default=120.0)
SIGVERIFY_STALE_SWEEP_S = env.float("SIGVERIFY_STALE_SWEEP_S", default=30.0)
SIGVERIFY_WORKER_TORCH_THREADS = env.int("SIGVERIFY_WORKER_TORCH_THREADS", default=SIGVERIFY_TORCH_THREADS)
SIGVERIFY_BROKER_DIR = Path(env("SIGVERIFY_BROKER_DIR", default=str(VAR_DIR / "broker")))

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # An unacked message is redelivered after this; it must outlast the longest training job.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": SIGVERIFY_TRAINING_TIME_LIMIT_S + 3600}
    CELERY_RESULT_EXPIRES = 24 * 3600
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_RESULT_BACKEND = None
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(SIGVERIFY_BROKER_DIR / "queue"),
        "data_folder_out": str(SIGVERIFY_BROKER_DIR / "queue"),
        "control_folder": str(SIGVERIFY_BROKER_DIR / "control"),
        "processed_folder": str(SIGVERIFY_BROKER_DIR / "processed"),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = SIGVERIFY_DEFAULT_QUEUE
CELERY_TASK_ROUTES = {"apps.training.tasks.run_training_job": {"queue": SIGVERIFY_GPU_QUEUE}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # long tasks: take one at a time
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# Fail fast when the broker is down so the API can answer 503 instead of hanging.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Tasks report through logging and the job rows; what reaches stdout (progress bars) is noise.
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "DEBUG"
# --- end Celery ---

# --- Batch verification and idempotency keys ---
SIGVERIFY_BATCH_MAX_ITEMS = env.int("SIGVERIFY_BATCH_MAX_ITEMS", default=500)
# The whole JSON body of POST /api/v1/verification-batches/ (base64 images included).
SIGVERIFY_BATCH_MAX_MB = env.int("SIGVERIFY_BATCH_MAX_MB", default=200)
# Items (or clearing cheques) preprocessed and embedded per forward pass, their rows written in one
# transaction; the heartbeat comes per chunk, so a chunk must take far less than SIGVERIFY_STALE_AFTER_S.
SIGVERIFY_BATCH_CHUNK = env.int("SIGVERIFY_BATCH_CHUNK", default=32)
# Threads that decode and preprocess a chunk's images at once (OpenCV and numpy release the GIL);
# 0: one per CPU core this process may use. 1: in the run's own thread.
SIGVERIFY_BATCH_THREADS = env.int("SIGVERIFY_BATCH_THREADS", default=0)
# Clearing files (image cash letters): the largest accepted, and the per-bank On-Us rules (JSON:
# payor routing number, or "*", -> a regex whose "account" group is the account; default: the
# digits left of the last "/").
SIGVERIFY_CLEARING_MAX_MB = env.int("SIGVERIFY_CLEARING_MAX_MB", default=2048)
SIGVERIFY_CLEARING_ACCOUNT_RULES = env.json("SIGVERIFY_CLEARING_ACCOUNT_RULES", default={})
# How long the first answer to an Idempotency-Key is kept and replayed to retries.
SIGVERIFY_IDEMPOTENCY_KEEP_HOURS = env.int("SIGVERIFY_IDEMPOTENCY_KEEP_HOURS", default=24)
if SIGVERIFY_IDEMPOTENCY_KEEP_HOURS < 24:
    raise ValueError("SIGVERIFY_IDEMPOTENCY_KEEP_HOURS must be at least 24: clients may retry for a day")

# --- A forgery call on a signature found on a whole cheque ---
# A model version with operating points fitted on cheques (thresholds.cheque) decides the finder's crop
# with them, whatever this says. For a version without them, off by default: such a crop is never
# decided forgery (a verification is referred, a cheque referred, never returned) without a person. On
# generated cheques of held-out layouts, 2.5-12.5% of genuine signatures cropped that way scored under
# the clean-crop `reject` (clean crops: 0%).
SIGVERIFY_CHEQUE_FORGERY_DECIDES = env.bool("SIGVERIFY_CHEQUE_FORGERY_DECIDES", default=False)

# --- References that grow ---
# Whether a review confirming a verification as genuine may add that signature to the signer's references
# (the bank's policy; off by default), up to how many active references, and how consistent with the
# existing ones it must be: "genuine" (at or above the accept threshold) or "refer" (not below reject).
SIGVERIFY_GROW_REFERENCES = env.bool("SIGVERIFY_GROW_REFERENCES", default=False)
SIGVERIFY_MAX_REFERENCES = env.int("SIGVERIFY_MAX_REFERENCES", default=10)
if SIGVERIFY_MAX_REFERENCES < 1:
    raise ValueError("SIGVERIFY_MAX_REFERENCES must be at least 1")
SIGVERIFY_GROW_MIN_DECISION = env("SIGVERIFY_GROW_MIN_DECISION", default="genuine")
if SIGVERIFY_GROW_MIN_DECISION not in ("genuine", "refer"):
    raise ValueError("SIGVERIFY_GROW_MIN_DECISION must be genuine or refer")
