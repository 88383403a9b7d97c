from .services import role_names

__all__ = ["role_names"]
