"""patchwire connector for the Acme completion API (the plugin template)."""
