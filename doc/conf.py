"""Sphinx configuration of the sklearn-kmt documentation.

Build from the root of the repository with::

    pip install ".[doc]"
    python -m sphinx -W --keep-going -b html doc doc/_build/html

The build needs no network: the gallery's examples use data generated on the
spot or shipped with scikit-learn, and links to other projects' documentation
(intersphinx) are only made when ``SKLEARN_KMT_DOC_INTERSPHINX=1`` is set.
Neither do the built pages: MathJax is copied into them.
"""

import os
import sys
import warnings
from pathlib import Path

# Document the package of this checkout, whether or not it is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sklearn_kmt  # noqa: E402

# -- Project -----------------------------------------------------------------------

project = "sklearn-kmt"
author = "The sklearn-kmt developers"
copyright = author
release = sklearn_kmt.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax shipped with the pages (copied into _static/mathjax), so that
    # the mathematics renders without network.
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

root_doc = "index"
exclude_patterns = ["_build", "examples"]
templates_path = ["_templates"]
default_role = "literal"

# One page per public object, written to doc/generated/ at build time.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}

# The class pages already list the methods (autosummary's template) and
# document them (autodoc's members); numpydoc's tables would repeat the list.
numpydoc_show_class_members = False

# Methods every scikit-learn estimator inherits for metadata routing and
# pandas output. Their docstrings refer to scikit-learn's own glossary and
# user guide, which this site does not have.
ESTIMATOR_PLUMBING = {
    "get_metadata_routing",
    "set_fit_request",
    "set_output",
    "set_predict_request",
    "set_score_request",
    "set_transform_request",
}


def skip_estimator_plumbing(app, what, name, obj, skip, options):
    """Skip the plumbing; for any other member, no opinion (None), so that
    autodoc and autosummary apply their own rules: a handler that answers
    False forces a member in, private and special ones included."""
    if name in ESTIMATOR_PLUMBING:
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", skip_estimator_plumbing)


if os.environ.get("SKLEARN_KMT_DOC_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
    }

# -- Gallery -----------------------------------------------------------------------

# Examples run with a non-interactive backend and no warnings printed into
# the pages; a failing example fails the build.
warnings.filterwarnings(
    "ignore", category=UserWarning, message="FigureCanvasAgg is non-interactive"
)

sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    # Back-references: each API page lists the examples that use the object.
    "doc_module": ("sklearn_kmt",),
    "backreferences_dir": "generated/backreferences",
    "reference_url": {"sklearn_kmt": None},
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    # The execution-times page loads jQuery and DataTables from CDNs: the
    # site stays complete offline without it.
    "write_computation_times": False,
}

# -- HTML --------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-kmt {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
