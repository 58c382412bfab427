"""The conformance suite a connector's tests subclass to prove it keeps the contract.

One class per capability your connector claims, each run against your plugin's own
simulator (``patchwire_register_simulators``)::

    class TestAcmeComplete(CompleteConformance):
        plugin = AcmePlugin()
        wire = "acme"            # the simulator's name
        model = "acme-small"

:class:`CompleteConformance`, :class:`StreamConformance` and :class:`EmbedConformance`
check one operation each: the classification of every class of answer, that the result
is what the server sent, hygiene (no hidden retries, the same request every attempt, no
leftovers, no blocked loop, the credential nowhere) and cancellation and deadlines.
:class:`ToolsConformance` and :class:`StructuredOutputConformance` check the rich calls
of a connector that claims them. :class:`PluginConformance` checks the plugin as installed: its entry point, its contract
version, that claimed capabilities work and unclaimed ones are refused before sending.
A failure names the rule (:data:`RULES`), the expected and observed values, the
connector frame and the fix.

:class:`ConnectorConformance` is the smaller suite for a connector with no simulator
(a tool driven through a server or program the test starts itself), watched for the same
hygiene rules; :class:`InstalledPluginChecks` checks any plugin's entry point and contract
version.
"""

from patchwire.testing.conformance.complete import CompleteConformance
from patchwire.testing.conformance.embed import EmbedConformance
from patchwire.testing.conformance.generic import ConnectorConformance, Scenario
from patchwire.testing.conformance.harness import SECRET, Run, SimulatedSuite
from patchwire.testing.conformance.plugin import InstalledPluginChecks, PluginConformance
from patchwire.testing.conformance.rich import StructuredOutputConformance, ToolsConformance
from patchwire.testing.conformance.rules import RULES, ConformanceFailure, Rule
from patchwire.testing.conformance.stream import StreamConformance

__all__ = [
    "RULES",
    "SECRET",
    "CompleteConformance",
    "ConformanceFailure",
    "ConnectorConformance",
    "EmbedConformance",
    "InstalledPluginChecks",
    "PluginConformance",
    "Rule",
    "Run",
    "Scenario",
    "SimulatedSuite",
    "StreamConformance",
    "StructuredOutputConformance",
    "ToolsConformance",
]
