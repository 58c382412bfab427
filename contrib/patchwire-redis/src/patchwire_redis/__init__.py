"""Redis backends for patchwire: rate limits and a response cache shared across processes.

``patchwire_redis.limiter.RedisLimiterBackend`` and ``patchwire_redis.cache.RedisCacheBackend``;
the plugin in ``patchwire_redis.plugin`` registers both under the name ``redis``.
"""
