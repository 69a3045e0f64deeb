"""Images in and out: bundled photos, safe upload decoding, camera frames."""
