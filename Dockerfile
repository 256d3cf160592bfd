# The platform's image: the locked dependencies (requirements.lock, hashes checked), then the source.
# One image for every process: compose.yaml chooses the command (api, gateway, scheduler, migrate, sim).
FROM python:3.11-slim-bookworm

# A font with Chinese for `scanpower labels` (WenQuanYi Micro Hei: small, and Debian's).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock

COPY pyproject.toml README.md babel.cfg ./
COPY backend backend
COPY billing billing
COPY device_gateway device_gateway
COPY firmware_sim firmware_sim
COPY scanpower scanpower
# The source runs from here as it is: no build step, so nothing outside the lock is installed.
ENV PYTHONPATH=/app PYTHONUNBUFFERED=1
RUN printf '#!/bin/sh\nexec python -m scanpower.cli "$@"\n' > /usr/local/bin/scanpower \
    && chmod +x /usr/local/bin/scanpower \
    && useradd --create-home --uid 10001 scanpower \
    && mkdir -p /app/var && chown scanpower /app/var
USER scanpower
EXPOSE 8000 9100
CMD ["scanpower", "api"]
