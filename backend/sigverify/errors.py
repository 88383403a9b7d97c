"""Typed errors for images the product refuses. Callers catch ``ImageRejected``."""


class ImageRejected(ValueError):
    """Base class: the input cannot be used as a signature image."""

    code = "invalid_image"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EmptyFileError(ImageRejected):
    code = "empty_file"


class NotAnImageError(ImageRejected):
    code = "not_an_image"


class TruncatedImageError(ImageRejected):
    code = "truncated_image"


class ImageTooLargeError(ImageRejected):
    code = "too_many_pixels"


class AspectRatioError(ImageRejected):
    code = "bad_aspect_ratio"


class BlankImageError(ImageRejected):
    code = "no_ink"


class CropError(ImageRejected):
    code = "bad_crop"


class DatasetError(ValueError):
    """A dataset tree does not match its declared layout."""


class ModelLoadError(RuntimeError):
    """Weights are missing, corrupted or do not match their recorded sha256."""
