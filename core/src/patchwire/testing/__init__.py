"""The test kit every plugin author gets with patchwire.

``patchwire.testing.pytest_plugin`` is registered under ``pytest11``: it provides the
``virtual_clock``, ``plugin_host``, ``register_plugin`` and ``fake_hub`` fixtures.
:mod:`patchwire.testing.rich_kit` holds what a connector's rich-call tests share: two
example tools, a structured-output type and a wire mixin that keeps the request bodies.
"""

from patchwire.testing.fake import Delay, FakeConnector, FakePlugin, FakeScript, Hang

__all__ = ["Delay", "FakeConnector", "FakePlugin", "FakeScript", "Hang"]
