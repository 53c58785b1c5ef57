"""The one exception users see: a one-line message naming the file, the field and the fix."""


class MechcllnError(ValueError):
    """Bad input or an impossible request. The CLI prints ``mechclln: error: <message>`` and exits 2."""


def fail(source: str | None, field: str, problem: str, fix: str) -> "MechcllnError":
    """Build the standard message ``<source>: field '<field>': <problem>; <fix>``."""
    where = f"{source}: " if source else ""
    return MechcllnError(f"{where}field '{field}': {problem}; {fix}")
