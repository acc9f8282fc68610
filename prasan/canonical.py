"""The canonical model and its Thai-aware value helpers, as plugins see them.

Re-exported from `canonical_model` so that a plugin imports nothing of the hub but `prasan`.
"""

from canonical_model import *  # noqa: F403 (the canonical model's own __all__ is the list)
from canonical_model import __all__ as _model_names
from canonical_model.envelope import content_hash
from canonical_model.rejection import rejections_from_validation_error
from canonical_model.thai_digits import to_arabic_digits, to_thai_digits
from canonical_model.thai_text import normalize_code, normalize_text

__all__ = [
    *_model_names,
    "content_hash",
    "normalize_code",
    "normalize_text",
    "rejections_from_validation_error",
    "to_arabic_digits",
    "to_thai_digits",
]
