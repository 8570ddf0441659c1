"""`python -m serving`: the predictor on its own, for the serving image (which carries no dev kit or CLI)."""

import typer

from hibachi.cli import run_app
from serving.cli import command

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(command)

run_app(app)
