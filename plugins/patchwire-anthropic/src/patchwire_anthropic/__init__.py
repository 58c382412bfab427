"""patchwire connector for Anthropic's Messages API."""
