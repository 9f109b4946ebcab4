"""The guide builds with warnings as errors, and its pages, figures and commands hold together.

The build test needs mkdocs and mkdocstrings (``pip install -e ".[docs]"``) and is skipped
cleanly without them; the checks of the Markdown sources run everywhere.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"

# the guide: one page per concept, each reproduced by example scripts
GUIDE = {
    "backprop.md": ["01_scalar_graphs"],
    "gates.md": ["02_gate_patterns"],
    "vjp.md": ["03_tensor_backward"],
    "functions.md": ["11_flat_vs_engine", "12_custom_function"],
    "linear-classifiers.md": ["04_softmax_templates"],
    "networks.md": [
        "05_nonlinearity",
        "06_size_vs_regularization",
        "07_activation_functions",
        "08_linear_collapse",
        "09_universal_approximation",
        "10_initialization",
        "13_gradient_flow",
        "14_nonconvexity",
    ],
}
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)|<img[^>]*\ssrc=\"([^\"]+)\"")
MAX_FIGURE_BYTES = 200_000


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_griffe" not in p.parts)


def images(page: Path) -> list[str]:
    return [a or b for a, b in IMAGE.findall(page.read_text(encoding="utf-8"))]


def test_every_figure_a_page_shows_exists_and_the_guide_s_are_small():
    shown = 0
    for page in pages():
        guide = page.name in GUIDE or page.name in ("index.md", "training.md")
        for ref in images(page):
            if ref.startswith(("http://", "https://")):
                continue
            target = (page.parent / ref).resolve()
            assert target.is_file(), f"{page.relative_to(ROOT)} shows {ref}, which is missing"
            size = target.stat().st_size
            assert size > 0, f"{ref} is empty"
            if guide:
                assert size < MAX_FIGURE_BYTES, f"{ref}: {size} bytes; keep figures small"
                shown += 1
    assert shown >= 20  # the guide is illustrated


def test_each_guide_page_names_its_commands_and_every_example_has_a_page():
    for page, scripts in GUIDE.items():
        text = (DOCS / page).read_text(encoding="utf-8")
        assert images(DOCS / page), f"{page} shows no picture"
        for script in scripts:
            assert (EXAMPLES / f"{script}.py").is_file(), f"{page}: no examples/{script}.py"
            assert f"python examples/{script}.py" in text, f"{page} does not name {script}.py"
    documented = {s for scripts in GUIDE.values() for s in scripts}
    existing = {p.stem for p in EXAMPLES.glob("[0-9][0-9]_*.py")}
    assert existing == documented, f"examples without a guide page: {existing - documented}"


def test_the_nav_lists_every_page_of_the_guide_and_the_api():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in ["index.md", *GUIDE, "training.md", "engine.md", "nn.md"]:
        assert f" {page}" in nav, f"mkdocs.yml's nav misses {page}"
    for page in sorted((DOCS / "api").glob("*.md")):
        assert f"api/{page.name}" in nav, f"mkdocs.yml's nav misses api/{page.name}"


def _missing_docs_tools() -> str | None:
    for module in ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python"):
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except ModuleNotFoundError:
            return module
    return None


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    missing = _missing_docs_tools()
    if missing:
        pytest.skip(f'{missing} is not installed: pip install -e ".[docs]"')
    out = tmp_path_factory.mktemp("docs") / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", "mkdocs.yml", "-d", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    warnings = [line for line in proc.stderr.splitlines() if "WARNING" in line or "ERROR" in line]
    assert proc.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(
        warnings or [proc.stderr]
    )
    assert not warnings, "\n".join(warnings)
    return out


def test_the_docs_build_with_warnings_as_errors(site):
    for page in ["index.html", *(p.replace(".md", "/index.html") for p in GUIDE)]:
        assert (site / page).is_file(), f"the build wrote no {page}"
    for page in pages():
        for ref in images(page):
            built = site / page.relative_to(DOCS).parent / ref
            assert built.is_file() or (site / ref).is_file(), f"{ref} is not in the built site"


def test_the_api_reference_documents_the_public_names(site):
    html = "\n".join(p.read_text(encoding="utf-8") for p in (site / "api").rglob("*.html"))
    known = ["cross_entropy", "Linear", "gradcheck", "MLP", "draw_graph", "explain", "SGD"]
    known += ["DataLoader", "l2_penalty", "jacobian", "hessian", "matmul", "softmax"]
    for name in known:
        assert re.search(rf'id="chainrule\.[\w.]*\b{name}"', html), f"{name} is not in the API"
    # every public name of these packages has an entry, so a new export cannot be forgotten
    for package in [
        "chainrule.nn",
        "chainrule.optim",
        "chainrule.data",
        "chainrule.train",
        "chainrule.viz",
        "chainrule.autograd",
    ]:
        module = importlib.import_module(package)
        for name in dir(module):
            obj = getattr(module, name)
            if name.startswith("_") or not callable(obj):  # modules, __future__ features
                continue
            assert re.search(rf'id="chainrule\.[\w.]*\.{name}"', html), (
                f"{package}.{name} is missing from the API reference (docs/api/*.md)"
            )
    assert "Examples:" in html and "&gt;&gt;&gt;" in html  # docstring examples render as code


def test_the_readme_shows_every_command_and_what_drawings_and_tests_need():
    from chainrule.cli import _SUBCOMMANDS

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for module in _SUBCOMMANDS:
        command = module.__name__.rsplit(".", 1)[1]
        assert f"chainrule {command}" in text, f"the README never shows `chainrule {command}`"
    assert "Graphviz's `dot`" in text  # the graph extra is the Python package alone
    assert re.search(r"run the tests \(about \d+ minutes", text)  # how long to expect


def test_every_figure_is_regenerated_from_the_code_and_shown():
    """docs/figures holds exactly what tools/make_figures.py (and the benchmarks) write, and
    every one of those figures is shown by a page of the guide or the README."""
    spec = importlib.util.spec_from_file_location("make_figures", ROOT / "tools/make_figures.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    made = tool.made_here() | set(tool.MADE_ELSEWHERE)
    held = {p.name for p in (DOCS / "figures").iterdir()}
    assert held == made, f"not made by the tool: {held - made}; not in docs/figures: {made - held}"
    shown = {Path(ref).name for page in pages() for ref in images(page)}
    shown |= {Path(ref).name for ref in images(ROOT / "README.md")}
    assert made <= shown, f"made but shown nowhere: {made - shown}"
    # each example named there exists, and writes the files named (tests/test_examples.py)
    from test_examples import CASES  # noqa: PLC0415  (the examples' own table)

    for script, files in tool.EXAMPLES.items():
        assert (EXAMPLES / f"{script}.py").is_file(), script
        written = CASES[script][0]
        for name in files:
            stem, suffix = name.rsplit(".", 1)
            assert name in written or (suffix == "svg" and f"{stem}.graph" in written), name
