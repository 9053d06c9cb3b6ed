# Image for the Swarm global service in compose/docker-bigip-ctlr.yml.
FROM python:3.11-slim
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir . && rm -rf /src
EXPOSE 9436
ENTRYPOINT ["docker-bigip-ctlr"]
CMD ["run"]
