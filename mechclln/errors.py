"""The one exception users see: a one-line message naming the file, the field and the fix."""


class MechcllnError(ValueError):
    """Bad input or an impossible request. The CLI prints ``mechclln: error: <message>`` and exits 2."""


def _one_line(text: str, limit: int) -> str:
    """``text`` with line breaks escaped and cut to ``limit`` characters (a field name may come from the
    user's file, e.g. a CSV header cell that swallowed the whole file)."""
    text = str(text).replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def fail(source: str | None, field: str, problem: str, fix: str) -> "MechcllnError":
    """Build the standard message ``<source>: field '<field>': <problem>; <fix>`` (always one line)."""
    where = f"{source}: " if source else ""
    return MechcllnError(f"{where}field '{_one_line(field, 80)}': {_one_line(problem, 400)}; {_one_line(fix, 400)}")
