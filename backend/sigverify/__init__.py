"""sigverify: the Django-free ML core of the signature-verification product.

Modules: ``preprocess`` (image -> ink map), ``cheque`` (the proposed signature region on a
whole cheque), ``chequegen`` (generated whole cheques with exact signature boxes, for
training and measuring the finder), ``signature_finder`` (every signature on a whole cheque:
a learned classifier of ink components; ``finder_training`` trains it), ``datasets`` (layouts, manifests), ``cache`` (preprocessed store), ``pairs``
(writer-disjoint splits and pair lists), ``model`` (Siamese ResNet18), ``losses``, ``augment``,
``options`` (the training options, declared once), ``train``, ``scoring`` (calibrated score and
decision, one calibration per number of references), ``writer_dependent`` (a classifier per signer
fused with the score), ``policy`` (thresholds per number of references from a bank's targets),
``metrics``, ``evaluate``, ``captures`` (capture conditions simulated on a dataset), ``embedding``
(a dataset's embeddings, stored or made), ``report`` (``sigverify evaluate``'s figures),
``evaluation_summary`` (their printed form), ``figures`` (plots), ``card`` (the typed model card),
``card_figures`` and ``publish`` (``sigverify publish``), ``card_markdown`` (``MODEL_CARD.md``),
``synthetic_signatures`` (signatures drawn without data), ``weights`` (safetensors + model card),
``onnx_export`` (the ONNX fp32 and int8 files, checked against PyTorch), ``runtime`` (PyTorch or
ONNX Runtime behind one ``embed_arrays``) and ``inference`` (the serving ``Verifier``).
"""

__version__ = "0.1.0"
