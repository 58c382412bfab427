"""Building a frozen attrs instance on a hot path without its per-field ``__setattr__``.

A frozen class's ``__init__`` sets every field through ``object.__setattr__``, a call each
that checks the class's own ``__setattr__``; for the few objects made on every call (the
call's request and reply, its events) that was most of what building one cost (issue 19).
:func:`twin` gives a class with the same slots and bases but no frozen ``__setattr__``: an
instance of it takes plain slot stores, and assigning ``__class__`` then makes it the
frozen class, equal in every way to one its ``__init__`` built. Each builder writes its
stores out field by field, in field order, and a test holds that order to the class's.
"""

from __future__ import annotations

__all__ = ["WeaklyReferenced", "twin"]


class WeaklyReferenced:
    """The weak-reference slot of a class filled in through :func:`twin` (attrs adds none
    to a class that inherits one): its own slots then come right after it, which the
    ``__class__`` assignment needs (:func:`patchwire.types.completion`,
    :func:`patchwire.types.usage`, :func:`patchwire.prices.bill.bill`...)."""

    __slots__ = ("__weakref__",)


def twin(cls: type) -> type:
    """A class ``cls``'s instances can be filled in as: ``cls``'s slots and bases, nothing else.

    CPython allows the ``__class__`` assignment only between classes of the same layout, so
    ``cls`` must not give its ``__weakref__`` slot after its own fields (as attrs does unless
    a base already holds one): such a class keeps it in a base, :class:`WeaklyReferenced`.
    ``cls``'s converters and validators are not run; a builder applies any itself.

    An empty instance is the twin called with no argument: object's ``__new__`` and
    ``__init__`` through the type call cost less than ``object.__new__(twin)``, a
    method call that slices its arguments (issue 19). So no base may bring its own.
    """
    for base in cls.__mro__[1:-1]:  # its bases, up to object
        if "__init__" in vars(base) or "__new__" in vars(base):
            raise TypeError(f"{base.__name__} has its own __init__ or __new__")
    return type(
        f"_{cls.__name__}Filling",
        cls.__bases__,
        {"__slots__": vars(cls)["__slots__"], "__module__": cls.__module__},
    )
