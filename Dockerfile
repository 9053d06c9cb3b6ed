# The controller's image, for the Swarm global service in compose/docker-bigip-ctlr.yml.
# Build it with scripts/build-image: it builds the wheels of the controller and of its
# dependencies on the host (into build/image/wheels), so this build needs no package index.
#   scripts/build-image                          # FROM python:3.11-slim
#   scripts/build-image --debian-base            # FROM a base made by mmdebstrap (no registry)
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

# A venv keeps the controller apart from the base's own Python packages; pip installs from the
# copied wheels only, then goes (the running image needs no installer).
COPY build/image/wheels /tmp/wheels
RUN python3 -m venv /opt/docker-bigip-ctlr \
 && /opt/docker-bigip-ctlr/bin/pip install --no-index --no-cache-dir --find-links /tmp/wheels \
        docker-bigip-ctlr \
 && /opt/docker-bigip-ctlr/bin/pip uninstall -q -y pip setuptools \
 && rm -rf /tmp/wheels \
 && echo 'ctlr:x:10001:0:docker-bigip-ctlr:/nonexistent:/usr/sbin/nologin' >> /etc/passwd

ENV PATH=/opt/docker-bigip-ctlr/bin:$PATH \
    PYTHONUNBUFFERED=1
# Not root. Reading the Docker socket needs its group: run with that group id, e.g.
#   docker run --user 10001:$(stat -c %g /var/run/docker.sock) ...   (or --group-add GID)
# In the stack file: user "10001:${DOCKER_GID}".
USER 10001:0
EXPOSE 9436 9437
# /healthz answers 200 while the process lives; the port follows F5_LISTEN.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request as u; port = os.environ.get('F5_LISTEN', ':9436').rpartition(':')[2]; u.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2)"]
ENTRYPOINT ["docker-bigip-ctlr"]
CMD ["run"]
