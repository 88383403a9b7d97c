"""The benchmark scripts print figures; they are not tests (load_test.py only looks like one)."""

collect_ignore = [
    "load_test.py",
    "end_to_end.py",
    "embed_speed.py",
    "benchlib.py",
    "verify_latency.py",
    "calibration_by_capture.py",
    "ensemble.py",
    "writer_dependent.py",
    "clearing_file.py",
    "capture_quality.py",
]
