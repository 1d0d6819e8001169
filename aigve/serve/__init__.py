"""``aigve serve``: the judge behind an HTTP API (FastAPI + uvicorn), micro-batched, bounded and observable.

:mod:`aigve.serve.batcher` queues requests onto one judge thread; :mod:`aigve.serve.app` is the FastAPI app
(score, pairwise, health, info, metrics, idempotency, API key). No import here loads FastAPI or torch.
"""
