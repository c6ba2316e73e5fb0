"""A Python validator the test declaration names (agent_checks:quantity_ok)."""


def quantity_ok(quantity, job):  # type: ignore[no-untyped-def]
    if not isinstance(quantity, int) or quantity < 1:
        return f"quantity {quantity!r} is not a positive whole number"
    return None
