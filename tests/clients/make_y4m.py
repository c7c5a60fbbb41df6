"""A fake camera for chromium (--use-file-for-fake-video-capture): a .y4m video of real photos.

    python make_y4m.py OUT.y4m PHOTO...

Each photo, turned upright (EXIF) and fitted into a W x H frame on grey, is shown for FRAMES
frames of YUV 4:2:0 (BT.601, full range as in JPEG: 'C420jpeg'), which chromium loops.
"""
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

W, H, FRAMES = 320, 240, 15


def frame(photo: Path) -> bytes:
    with Image.open(photo) as img:
        img = ImageOps.exif_transpose(img).convert("RGB")
        scale = min(W / img.width, H / img.height)
        img = img.resize((int(img.width * scale), int(img.height * scale)), Image.BILINEAR)
    canvas = Image.new("RGB", (W, H), (128, 128, 128))
    canvas.paste(img, ((W - img.width) // 2, (H - img.height) // 2))
    rgb = np.asarray(canvas, dtype=np.float32)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    half = lambda c: c.reshape(H // 2, 2, W // 2, 2).mean(axis=(1, 3))  # noqa: E731
    planes = [y, half(u), half(v)]
    return b"".join(np.clip(np.rint(p), 0, 255).astype(np.uint8).tobytes() for p in planes)


def main(out: str, photos: list[str]) -> None:
    if not photos:
        sys.exit("usage: make_y4m.py OUT.y4m PHOTO...")
    with open(out, "wb") as f:
        f.write(f"YUV4MPEG2 W{W} H{H} F{FRAMES}:1 Ip A1:1 C420jpeg\n".encode())
        for photo in photos:
            data = frame(Path(photo))
            for _ in range(FRAMES):
                f.write(b"FRAME\n" + data)
    print(f"{out}: {len(photos)} photos, {len(photos) * FRAMES} frames of {W}x{H}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
