"""``aws-sm:NAME[#json-key][@stage]``: which secret, which field of it, which version.

NAME is a secret's name or ARN. ``#json-key`` reads one field of a secret stored as a JSON
object (the console's key/value form). ``@stage`` pins a version stage (``AWSCURRENT``,
``AWSPENDING``, ``AWSPREVIOUS`` or a label of your own); without it the source reads
``AWSCURRENT`` and, after a server refused that value, ``AWSPENDING`` (see the source).
Secret names may contain ``@``: such a name must then give its stage explicitly
(``aws-sm:team@prod@AWSCURRENT``), because the last ``@`` always starts the stage.
"""

from __future__ import annotations

import re

import attrs
from patchwire.secrets import SecretNotFound

__all__ = ["SecretReference", "parse_reference"]

# Secrets Manager's own rules: names use letters, digits and /_+=.@-; ARNs add ':'.
_NAME = re.compile(r"^[A-Za-z0-9/_+=.@:-]{1,2048}$")
_STAGE = re.compile(r"^[A-Za-z0-9_.+=@-]{1,256}$")
_FORM = "aws-sm:NAME[#json-key][@stage]"


@attrs.frozen
class SecretReference:
    secret_id: str
    json_key: str | None = None
    stage: str | None = None


def parse_reference(body: str) -> SecretReference:
    rest, at, stage = body.rpartition("@")
    if not at:
        rest, stage = body, ""
    elif not _STAGE.match(stage):
        raise SecretNotFound(f"the stage after '@' is not a version stage label ({_FORM})")
    rest, hash_, key = rest.partition("#")
    if hash_ and not key:
        raise SecretNotFound(f"nothing follows '#': name the JSON key to read ({_FORM})")
    if not rest:
        raise SecretNotFound(f"an aws-sm: reference names a secret ({_FORM})")
    if not _NAME.match(rest):
        raise SecretNotFound(
            "a secret name or ARN uses letters, digits and /_+=.@:- only"
            f" (up to 2048 characters; {_FORM})"
        )
    return SecretReference(rest, key or None, stage or None)
