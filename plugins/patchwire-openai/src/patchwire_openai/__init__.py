"""patchwire connector for OpenAI and OpenAI-compatible servers (Ollama, vLLM, LM Studio).

Installed, it adds the connector type ``openai`` and the ``openai`` simulator; nothing
here needs importing by hand (the ``patchwire`` entry point finds the plugin).
"""

__version__ = "0.1.0"
