"""patchwire connector type ``web``: pages and undocumented HTTP APIs behind ``hub.tool(NAME)``.

This module stays light: the entry point (``patchwire_web.plugin:plugin``) imports the
connector only when the plugin host asks for connector types, and the HTML parser only
when a page is extracted.
"""

__version__ = "0.1.0"
