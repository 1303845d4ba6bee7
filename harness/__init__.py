"""mmeb-harness: a declarative evaluation harness for multimodal embedding models."""

__version__ = "0.1.0"

__all__ = ["__version__"]
