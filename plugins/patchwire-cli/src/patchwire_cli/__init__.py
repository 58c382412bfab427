"""patchwire connector type ``cli``: command-line programs behind ``hub.tool(NAME).call(...)``.

This module stays light: the entry point (``patchwire_cli.plugin:plugin``) imports the
connector only when the plugin host asks for connector types.
"""

__version__ = "0.1.0"
