"""Late-interaction (multi-vector) encoders: the protocol here; ColPali / ColQwen2 in ``colvision``."""

from harness.models.late_interaction.protocol import MultiVectorEncoder, is_multivector

__all__ = ["MultiVectorEncoder", "is_multivector"]
