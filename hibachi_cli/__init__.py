"""`hibachi`: the platform's command line, composed in this one place from each area's command group.

Heavy libraries (torch, kfp, kserve, evidently) are imported inside the commands that need them, so
`hibachi --help` and the light commands start fast. Every group is imported unconditionally: a missing
or broken module of the project is an error, not a command that quietly disappears.
"""

from __future__ import annotations

import typer

from components.filter import cli as pii_cli
from devkit import loop, seed, tiny_model
from devkit.simulators import cli as providers_cli
from devkit.synth import cli as synth_cli
from gateway import cli as gateway_cli
from hibachi import cli as domain_cli
from hibachi import data_cli
from hibachi.critic import cli as critic_cli
from hibachi.monitoring import cli as report_cli
from pipelines import cli as pipeline_cli
from serving import cli as serve_cli
from serving import rollout_cli

app = typer.Typer(
    name="hibachi",
    help="Closed-loop LLM distillation: capture hosted-LLM traffic, fine-tune a local Llama, roll it out safely.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# production areas
app.add_typer(domain_cli.db_app, name="db")
app.add_typer(domain_cli.kb_app, name="kb")
app.add_typer(domain_cli.keys_app, name="keys")
app.add_typer(critic_cli.app, name="critic")
app.add_typer(gateway_cli.app, name="gateway")
app.command("serve")(serve_cli.command)
app.add_typer(rollout_cli.app, name="rollout")
app.add_typer(pipeline_cli.app, name="pipeline")
app.add_typer(pii_cli.app, name="pii")
app.add_typer(report_cli.app, name="report")
app.add_typer(data_cli.lineage_app, name="lineage")
# the development kit: the embedded default's simulators, synthetic data and the demo loop
# `hibachi data` is one group: erase and retention (domain) and synth (dev kit)
data_cli.data_app.command("synth")(synth_cli.synth)
app.add_typer(data_cli.data_app, name="data")
app.add_typer(providers_cli.app, name="providers")
app.command("demo")(loop.command)
app.command("seed")(seed.command)
app.command("base-model")(tiny_model.build_command)


def main() -> None:
    """Entry point: user errors print one line on stderr and exit with their code, never a traceback."""
    domain_cli.run_app(app)


if __name__ == "__main__":
    main()
