"""patchwire connector type ``gemini``: the Google Gemini API behind ``hub.model("gemini:...")``.

This module stays light: the entry point (``patchwire_gemini.plugin:plugin``) imports the
connector only when the plugin host asks for connector types.
"""

__version__ = "0.1.0"
