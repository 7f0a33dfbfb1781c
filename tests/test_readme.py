"""Every Python code block of the README runs as written, in order.

``pycon`` blocks are checked as doctests (their printed output must match);
``python`` blocks are executed; both share one namespace, as a reader typing
them in one session would. Shell and BibTeX blocks are not Python.
"""

import doctest
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.rst"

pytest.importorskip("matplotlib")
pytest.importorskip("distributed")


def code_blocks(text):
    """``(language, code)`` of each ``.. code-block::`` of ``text``, in order,
    the indentation of its body removed."""
    blocks = []
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"^(\s*)\.\. code-block:: (\w+)\s*$", line)
        if not match:
            continue
        indent = len(match.group(1))
        body = []
        for following in lines[index + 1 :]:
            if following.strip() and len(following) - len(following.lstrip()) <= indent:
                break
            body.append(following)
        body_lines = [line for line in body if line.strip()]
        margin = min(len(line) - len(line.lstrip()) for line in body_lines)
        code = "\n".join(line[margin:] for line in body).strip("\n") + "\n"
        blocks.append((match.group(2), code))
    return blocks


def test_readme_has_python_blocks():
    languages = [language for language, _ in code_blocks(README.read_text())]
    assert languages.count("pycon") >= 3 and languages.count("python") >= 5


def test_every_readme_code_block_runs_in_order(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__readme__"}
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    )
    for number, (language, code) in enumerate(code_blocks(README.read_text())):
        if language == "pycon":
            test = parser.get_doctest(code, namespace, f"README block {number}", "", 0)
            result = runner.run(test, clear_globs=False)
            assert result.failed == 0, f"README block {number} (pycon) failed"
            namespace = test.globs
        elif language == "python":
            exec(compile(code, f"README block {number}", "exec"), namespace)
