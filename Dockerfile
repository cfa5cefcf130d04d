# One image for every Mitra service; docker-compose.yml picks the command.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir ".[ops]"
RUN useradd --create-home mitra && mkdir -p /app/var && chown mitra /app/var
USER mitra
EXPOSE 8001
CMD ["gunicorn", "-w", "2", "-b", "0.0.0.0:8001", "services.partners:create_app()"]
