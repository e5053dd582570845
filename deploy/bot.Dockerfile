# Rasa server and action server (Python 3.10, Rasa 3.6): one image, two commands.
# The model is trained at build time; nothing is downloaded when a container starts.
FROM python:3.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SQLALCHEMY_SILENCE_UBER_WARNING=1 TF_CPP_MIN_LOG_LEVEL=2 PYTHONPATH=/bot
WORKDIR /bot

COPY bot/requirements.txt ./requirements.txt
RUN pip install --no-cache-dir "pip==24.0" && pip install --no-cache-dir -r requirements.txt \
 && pip install --no-cache-dir "psycopg2-binary==2.9.10"

COPY bot/ ./
COPY lender/ /lender/
COPY tickets/categories.yml /lender/categories.yml
COPY deploy/rasa-endpoints.yml ./endpoints.docker.yml
RUN rasa train --fixed-model-name aduan --out models \
 && useradd --system --uid 10002 rasa && chown -R rasa /bot
USER rasa

ENV LENDER_CONTENT=/lender/demo.yml COMPLAINT_CATEGORIES=/lender/categories.yml
EXPOSE 5005 5055
# docker-compose.yml picks the command: the Rasa server (default) or `rasa run actions`.
CMD ["rasa", "run", "--model", "models/aduan.tar.gz", "--port", "5005", \
     "--credentials", "credentials.yml", "--endpoints", "endpoints.docker.yml"]
