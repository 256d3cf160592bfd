FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend backend
COPY billing billing
COPY device_gateway device_gateway
COPY firmware_sim firmware_sim
COPY scanpower scanpower
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["scanpower", "api"]
