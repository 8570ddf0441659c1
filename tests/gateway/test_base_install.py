"""The gateway runs on the base install: ``pip install hibachi-distill`` with no extras.

Simulated in a fresh interpreter: every installed module whose distribution is not required (transitively) by the
project's base dependencies is made unimportable, as on a machine with only the base install; then the gateway's
entry points are imported and its app is built. A library that merely tries an optional import carries on without
it; a hard import of something only an extra (or nothing) installs fails here, as it would for that user.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import importlib.abc, importlib.metadata as md, re, sys
    from packaging.requirements import Requirement

    def norm(name):
        return re.sub(r"[-_.]+", "-", name).lower()

    base, todo = set(), ["hibachi-distill"]
    while todo:
        name = todo.pop()
        if norm(name) in base:
            continue
        base.add(norm(name))
        for line in md.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            try:
                md.distribution(requirement.name)
            except md.PackageNotFoundError:
                continue
            todo.append(requirement.name)
    blocked = {top for top, dists in md.packages_distributions().items()
               if not any(norm(d) in base for d in dists)} - set(sys.stdlib_module_names)

    class OnlyBaseInstall(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.partition(".")[0] in blocked:
                raise ModuleNotFoundError(f"No module named {name!r} (not installed by the base install)", name=name)
            return None

    sys.meta_path.insert(0, OnlyBaseInstall())
    import gateway.cli
    from gateway.app import create_app
    from hibachi.settings import Settings
    create_app(Settings(database_url="sqlite:///" + sys.argv[1] + "/gateway.db", data_dir=sys.argv[1]))
    print("built")
''')


def test_the_gateway_starts_with_only_the_base_dependencies(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "built" in result.stdout, result.stderr[-3000:]
