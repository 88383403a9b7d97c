"""What the tests and benchmarks share, declared once (the product never imports it).

- ``ci``: skip a test whose part is missing here, fail it in CI (``CI`` set);
- ``servers``: a free port, a gunicorn launcher, the database URL a server process can open;
- ``uploads``: uploaded files, the known bad uploads, the files under MEDIA_ROOT;
- ``bad_inputs``: the corpus of malformed and hostile uploads.

- ``synthetic_data``: drawn uploads, whole cheques and ``folders`` datasets;
- ``small_settings``: the notebooks' small settings (a drawn dataset, tiny models trained on it).

Signatures themselves are drawn by ``sigverify.synthetic_signatures``.
"""
