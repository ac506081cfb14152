"""Small helpers shared by views and services."""


def int_or_none(value) -> int | None:
    """Return *value* as an int, or None for anything that isn't one (form input)."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
