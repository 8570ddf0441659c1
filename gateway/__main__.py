"""`python -m gateway serve | traffic`: the gateway on its own, for its image (which carries no dev kit)."""

from gateway.cli import app
from hibachi.cli import run_app

run_app(app)
