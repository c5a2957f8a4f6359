"""One image file read as RGB, whatever its mode: grey, palette, CMYK and alpha images convert as
Pillow converts them (the alpha channel is dropped); 16-bit and 32-bit integer images (modes I;16, I)
are scaled to 8 bits (value / 257) first, since Pillow would clip them; floating-point images are
refused."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from benchmark.errors import UserError


def open_rgb(path: Path) -> Image.Image:
    """The image at `path`, decoded, as RGB; a UserError naming the file if it cannot be read."""
    try:
        with Image.open(path) as image:
            if image.mode == "F":
                raise UserError(f"{path} is a floating-point image (mode F); save it with 8 or 16 bits per "
                                "channel, or remove it")
            if image.mode.startswith("I"):  # 16/32-bit integers: 65535 -> 255
                wide = np.asarray(image, dtype=np.float64) / 257
                image = Image.fromarray(np.clip(np.round(wide), 0, 255).astype(np.uint8), mode="L")
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise UserError(f"cannot read image {path} ({e}); fix or remove the file") from None
