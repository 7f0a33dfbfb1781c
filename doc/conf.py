"""Sphinx configuration of the sklearn-kmt documentation.

Build from the root of the repository with::

    python -m sphinx -b html doc doc/_build/html
"""

import sys
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
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
]

root_doc = "index"
exclude_patterns = ["_build"]
default_role = "literal"

# One page per public object, written to doc/generated/ at build time.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}

# The class pages already list the methods (autosummary's template) and
# document them (autodoc's members); numpydoc's tables would repeat the list.
numpydoc_show_class_members = False

intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "numpy": ("https://numpy.org/doc/stable", None),
    "scipy": ("https://docs.scipy.org/doc/scipy", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
}

# -- HTML --------------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-kmt {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
