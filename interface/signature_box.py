"""The signature box on a whole-cheque scan: proposed by the service, dragged by the clerk.

The scan is shown on a drawable canvas (``streamlit-drawable-canvas``, rectangle mode) with
every box the service found already on it (the one to verify in red, the other signatures of
a joint or company cheque in blue); dragging a new rectangle replaces the chosen box (the canvas
is drawn again with the boxes). The canvas shows the scan reduced to ``CANVAS_WIDTH``; boxes are converted between
canvas and scan pixels here, so the API always gets the scan's own pixels.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from PIL import Image

CANVAS_WIDTH = 900
BOX_COLOUR = "#dc1e1e"
BOX_FILL = "rgba(220, 30, 30, 0.08)"
OTHER_COLOUR = "#1e5adc"  # the other signatures found (a joint or company account's second signer)
OTHER_FILL = "rgba(30, 90, 220, 0.06)"
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


def rect_object(box: Box, scale: float, active: bool = True) -> dict[str, Any]:
    """A Fabric rectangle for ``initial_drawing``, drawn at ``box`` (scan pixels): red when it
    is the box to verify, blue for the other signatures found."""
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
        "fill": BOX_FILL if active else OTHER_FILL,
        "stroke": BOX_COLOUR if active else OTHER_COLOUR,
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


def proposed_boxes(client, upload, content: bytes, size: tuple[int, int]) -> tuple[list[Box], list[float], str]:
    """(every signature box the service found on this upload, best first; their confidences,
    or an empty list when the service gives none; a sentence saying where they come from).
    Asked once per uploaded file and kept in this session."""
    from api_client import ApiError

    cache = st.session_state.setdefault("_signature_regions", {})
    if upload.file_id not in cache:
        try:
            answer = client.signature_region((upload.name, content, upload.type))
            found = list(answer.signatures)
            crop = answer.crop
            # ``crop`` is the most confident signature's box with a margin: the first box; the
            # other signatures (a joint or company account's) follow as found.
            boxes = [clip_box((crop.x, crop.y, crop.width, crop.height), *size)]
            boxes += [clip_box(_xywh(item.box), *size) for item in found[1:]]
            confidences = [float(item.confidence) for item in found]
            if len(boxes) > 1:
                note = f"The service found {len(boxes)} signatures; each has a box."
            elif answer.found:
                note = "The box starts on the signature the service found."
            else:
                note = "The service found no ink in the lower right; the box starts where signatures usually are."
        except ApiError as error:
            boxes, confidences = [default_box(*size)], []
            note = f"The service could not propose a box ({error}); it starts where signatures usually are."
        cache[upload.file_id] = (boxes, confidences, note)
    return cache[upload.file_id]


def proposed_box(client, upload, content: bytes, size: tuple[int, int]) -> tuple[Box, str]:
    """(the service's best box for this upload, where it comes from)."""
    boxes, _, note = proposed_boxes(client, upload, content, size)
    return boxes[0], note


def _xywh(box) -> Box:
    if isinstance(box, (list, tuple)):
        return tuple(int(v) for v in box)
    return int(box.x), int(box.y), int(box.width), int(box.height)


def drag_box(picture: Image.Image, start: Box | list[Box], key: str, active: int = 0) -> Box:
    """The scan on a canvas with the boxes drawn on it (``start`` at first: one box or
    several, the ``active`` one in red); the box the clerk ends up with for ``active``. A
    newly dragged rectangle replaces the active box; the others stay where they are."""
    # Imported here: the component registers its files with a running Streamlit only.
    from streamlit_drawable_canvas import st_canvas

    starts = [start] if isinstance(start, tuple) else list(start)
    state = st.session_state.setdefault("_drag_boxes", {})
    current, generation = state.get(key, (starts, 0))
    current = list(current)
    active = min(max(0, active), len(current) - 1)
    width, height = picture.size
    scale = canvas_scale(width)
    canvas_size = (max(1, round(width * scale)), max(1, round(height * scale)))
    background = picture.convert("RGB").resize(canvas_size, Image.Resampling.BOX)
    objects = [rect_object(box, scale, index == active) for index, box in enumerate(current)]
    result = st_canvas(
        fill_color=BOX_FILL,
        stroke_width=3,
        stroke_color=BOX_COLOUR,
        background_image=background,
        width=canvas_size[0],
        height=canvas_size[1],
        drawing_mode="rect",
        initial_drawing={"objects": objects},
        key=f"{key}_{generation}_{active}",
    )
    if usable_rects(result.json_data) > len(current):  # a new rectangle: it replaces the active box
        current[active] = box_from_drawing(result.json_data, scale, (width, height)) or current[active]
        state[key] = (current, generation + 1)
        st.rerun()
    return current[active]


def reset(key: str, start: Box | list[Box]) -> None:
    """Back to ``start`` (the proposal) on a fresh canvas."""
    starts = [start] if isinstance(start, tuple) else list(start)
    state = st.session_state.setdefault("_drag_boxes", {})
    state[key] = (starts, state.get(key, (starts, 0))[1] + 1)


def usable_rects(drawing: dict | None) -> int:
    return sum(
        1
        for o in (drawing or {}).get("objects", [])
        if str(o.get("type", "")).lower() == "rect"
        and abs(float(o.get("width", 0)) * float(o.get("scaleX", 1))) >= MIN_DRAWN
        and abs(float(o.get("height", 0)) * float(o.get("scaleY", 1))) >= MIN_DRAWN
    )
