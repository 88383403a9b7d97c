"""The signature box on a whole-cheque scan: proposed by the service, dragged by the clerk.

The scan is shown on a drawable canvas (``streamlit-drawable-canvas``, rectangle mode) with
the proposed box already on it; dragging a new rectangle replaces it (the canvas is drawn
again with the new box alone). The canvas shows the scan reduced to ``CANVAS_WIDTH``; boxes are converted between
canvas and scan pixels here, so the API always gets the scan's own pixels.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from PIL import Image

CANVAS_WIDTH = 900
BOX_COLOUR = "#dc1e1e"
BOX_FILL = "rgba(220, 30, 30, 0.08)"
MIN_DRAWN = 5  # canvas pixels: a click without a drag draws nothing usable
# Fabric's origin of an object, as a fraction of its size (Fabric 7 defaults to the centre).
_ORIGIN = {"left": 0.0, "top": 0.0, "center": 0.5, "right": 1.0, "bottom": 1.0}

Box = tuple[int, int, int, int]  # x, y, width, height in scan pixels


def default_box(width: int, height: int) -> Box:
    """The usual place of a signature: the lower right."""
    return int(width * 0.55), int(height * 0.5), int(width * 0.4), int(height * 0.3)


def clip_box(box, width: int, height: int) -> Box:
    """The box moved and cut to lie inside a width x height image, at least 1 x 1."""
    x, y, w, h = (int(round(v)) for v in box)
    x, y = min(max(0, x), width - 1), min(max(0, y), height - 1)
    return x, y, max(1, min(w, width - x)), max(1, min(h, height - y))


def canvas_scale(width: int) -> float:
    return min(1.0, CANVAS_WIDTH / max(width, 1))


def rect_object(box: Box, scale: float) -> dict[str, Any]:
    """A Fabric rectangle for ``initial_drawing``, drawn at ``box`` (scan pixels)."""
    x, y, w, h = box
    return {
        "type": "rect",
        "left": x * scale,
        "top": y * scale,
        "width": w * scale,
        "height": h * scale,
        "originX": "left",
        "originY": "top",
        "scaleX": 1,
        "scaleY": 1,
        "angle": 0,
        "fill": BOX_FILL,
        "stroke": BOX_COLOUR,
        "strokeWidth": 3,
        "strokeUniform": True,
        "lockRotation": True,
    }


def box_from_drawing(drawing: dict | None, scale: float, size: tuple[int, int]) -> Box | None:
    """The last rectangle on the canvas, in scan pixels (clipped to the scan); None when none."""
    rects = [o for o in (drawing or {}).get("objects", []) if str(o.get("type", "")).lower() == "rect"]
    for rect in reversed(rects):
        w = float(rect.get("width", 0)) * float(rect.get("scaleX", 1))
        h = float(rect.get("height", 0)) * float(rect.get("scaleY", 1))
        w, h = abs(w), abs(h)
        if w < MIN_DRAWN or h < MIN_DRAWN:
            continue
        left = float(rect.get("left", 0)) - _ORIGIN.get(rect.get("originX", "left"), 0.0) * w
        top = float(rect.get("top", 0)) - _ORIGIN.get(rect.get("originY", "top"), 0.0) * h
        return clip_box((left / scale, top / scale, w / scale, h / scale), *size)
    return None


def proposed_box(client, upload, content: bytes, size: tuple[int, int]) -> tuple[Box, str]:
    """(the service's proposal for this upload, a sentence saying where it comes from); asked
    once per uploaded file and kept in this session."""
    from api_client import ApiError

    cache = st.session_state.setdefault("_signature_regions", {})
    if upload.file_id not in cache:
        try:
            answer = client.signature_region((upload.name, content, upload.type))
            crop = answer.crop
            box = clip_box((crop.x, crop.y, crop.width, crop.height), *size)
            note = (
                "The box starts on the signature the service found."
                if answer.found
                else "The service found no ink in the lower right; the box starts where signatures usually are."
            )
        except ApiError as error:
            box = default_box(*size)
            note = f"The service could not propose a box ({error}); it starts where signatures usually are."
        cache[upload.file_id] = (box, note)
    return cache[upload.file_id]


def drag_box(picture: Image.Image, start: Box, key: str) -> Box:
    """The scan on a canvas with the box drawn on it (``start`` at first); the box the clerk
    ends up with. A newly dragged rectangle replaces the one shown."""
    # Imported here: the component registers its files with a running Streamlit only.
    from streamlit_drawable_canvas import st_canvas

    state = st.session_state.setdefault("_drag_boxes", {})
    current, generation = state.get(key, (start, 0))
    width, height = picture.size
    scale = canvas_scale(width)
    canvas_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    background = picture.convert("RGB").resize(canvas_size, Image.Resampling.BOX)
    result = st_canvas(
        fill_color=BOX_FILL,
        stroke_width=3,
        stroke_color=BOX_COLOUR,
        background_image=background,
        width=canvas_size[0],
        height=canvas_size[1],
        drawing_mode="rect",
        initial_drawing={"objects": [rect_object(current, scale)]},
        key=f"{key}_{generation}",
    )
    box = box_from_drawing(result.json_data, scale, (width, height)) or current
    if usable_rects(result.json_data) > 1:  # a new rectangle: show it alone, on a fresh canvas
        state[key] = (box, generation + 1)
        st.rerun()
    return box


def reset(key: str, start: Box) -> None:
    """Back to ``start`` (the proposal) on a fresh canvas."""
    state = st.session_state.setdefault("_drag_boxes", {})
    state[key] = (start, state.get(key, (start, 0))[1] + 1)


def usable_rects(drawing: dict | None) -> int:
    return sum(
        1
        for o in (drawing or {}).get("objects", [])
        if str(o.get("type", "")).lower() == "rect"
        and abs(float(o.get("width", 0)) * float(o.get("scaleX", 1))) >= MIN_DRAWN
        and abs(float(o.get("height", 0)) * float(o.get("scaleY", 1))) >= MIN_DRAWN
    )
