"""Settings modules: base (shared), local (development), test, production. All read the environment."""
