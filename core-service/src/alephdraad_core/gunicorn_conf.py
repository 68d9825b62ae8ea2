"""gunicorn configuration: `gunicorn -c python:alephdraad_core.gunicorn_conf`.

Reads the environment through config.py, so a bad variable stops the master before it forks.
"""

from alephdraad_core.config import load_config
from alephdraad_core.platform.logging import gunicorn_logging_config

_config = load_config()

wsgi_app = "alephdraad_core.wsgi:application"
# IPv6 literals need brackets in a bind address.
_host = f"[{_config.host}]" if ":" in _config.host else _config.host
bind = f"{_host}:{_config.port}"

# Threads let a worker overlap requests that wait on PostgreSQL; each thread holds at most one
# persistent database connection, so workers * threads bounds the connections per replica.
worker_class = "gthread"
workers = _config.web_workers
threads = _config.web_threads

timeout = 30
# Below Kubernetes' default 30 s termination grace period, so in-flight requests finish before
# the pod is killed.
graceful_timeout = 25
# Longer than the gateway's upstream keep-alive (nginx: 60 s), so the gateway always closes an
# idle connection first and never sends a request into one gunicorn is closing.
keepalive = 75

# The service logs one JSON "request" line itself (platform/middleware.py), with the request id.
accesslog = None
errorlog = "-"
loglevel = _config.log_level.lower()
logconfig_dict = gunicorn_logging_config(_config.log_level)

# The control socket's default path is per user, not per instance: a second gunicorn on the
# machine (another replica, the e2e stack next to `make run`) would take it over. Processes are
# managed with signals by whatever started them.
control_socket_disable = True
