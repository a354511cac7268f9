"""Developer tasks. ``nox`` with no arguments runs what CI runs: tests (both tiers), lint, typecheck and docs."""

import os
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True


def _test_assets(session: nox.Session) -> str:
    """Build or reuse etcd, kube-apiserver, kube-controller-manager, kubectl and helm; return their folder."""
    printed = Path(session.create_tmp()) / "test-assets.out"
    # Only stdout is captured: the script's progress (stderr) stays visible during a first, slow build.
    with printed.open("w") as stdout:
        session.run("bash", "scripts/test-assets.sh", external=True, stdout=stdout, stderr=None)
    return printed.read_text().strip().splitlines()[-1]


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite: the fast unit tier and the integration tier (real Git servers, a real API server)."""
    session.install("-e", ".[test]")
    assets = _test_assets(session)
    env = {"KUBEBUILDER_ASSETS": assets, "PATH": os.pathsep.join([assets, os.environ.get("PATH", os.defpath)])}
    session.run("pytest", *session.posargs, env=env)


@nox.session
def unit(session: nox.Session) -> None:
    """Only the fast unit tier (no servers started)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not integration", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and format check."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", "src", "tests", "examples", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "tests", "examples", "benchmarks", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on the library."""
    # The pytest plugin is type-checked against pytest; requests (under oras) has its types apart.
    session.install("-e", ".[test]", "mypy>=1.10", "types-requests>=2.31")
    session.run("mypy")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (MkDocs Material + mkdocstrings), built with warnings as errors."""
    session.install("-e", ".[docs]")
    site = Path(session.create_tmp()) / "site"  # a build check: the site is not kept in the checkout
    session.run("mkdocs", "build", "--strict", "--site-dir", str(site), env={"NO_MKDOCS_2_WARNING": "1"})


@nox.session
def quickstart(session: nox.Session) -> None:
    """Run the README's quickstart."""
    session.install("-e", ".")
    session.run("python", "examples/quickstart.py")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: print figures (never timed tests)."""
    session.install("-e", ".")
    for script in sorted(__import__("pathlib").Path("benchmarks").glob("bench_*.py")):
        session.run("python", str(script))
