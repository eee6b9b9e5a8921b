"""Preprocessing: image loading, face crops and alignment, augmentation, data set readers,
and the synthetic face renderer."""

from .faces import crop_face, crop_faces, square_box
from .images import MAX_DECODE_PIXELS, MAX_FILE_BYTES, MAX_PIXELS, load_image, load_image_scaled, to_rgb_array

__all__ = [
    "MAX_DECODE_PIXELS",
    "MAX_FILE_BYTES",
    "MAX_PIXELS",
    "crop_face",
    "crop_faces",
    "load_image",
    "load_image_scaled",
    "square_box",
    "to_rgb_array",
]
